"""The README test's own rules: which blocks run, and when a sample response matches."""

from __future__ import annotations

from typing import Any

import pytest

from tests.docs.readme import fenced_blocks, json_mismatches, sample_responses

UUID_A = "05558a8b-b99a-4a15-beab-f2dbd124991c"
MARKDOWN = """\
Intro.

<!-- illustrative -->
```sh
make run
```

```sh
curl -s "$BASE/v1/questions"
```

Prose between a command and its sample.

```json
{"items": []}
```

```yaml
id: q1
```
"""


def test_blocks_are_read_in_order_with_their_marking() -> None:
    blocks = fenced_blocks(MARKDOWN)
    assert [(b.language, b.line, b.illustrative, b.runnable) for b in blocks] == [
        ("sh", 4, True, False),
        ("sh", 8, False, True),
        ("json", 14, False, False),
        ("yaml", 18, False, False),
    ]
    assert blocks[1].text == 'curl -s "$BASE/v1/questions"\n'
    assert sample_responses(blocks) == {1: blocks[2]}


def test_a_json_block_after_no_runnable_block_must_be_marked() -> None:
    with pytest.raises(ValueError, match="line 6: a json block must follow"):
        sample_responses(
            fenced_blocks("<!-- illustrative -->\n```sh\nx\n```\n\n```json\n{}\n```\n")
        )


@pytest.mark.parametrize(
    ("sample", "actual"),
    [
        (
            {"id": "05558a8b-b99a-4a15-beab-f2dbd124991c"},
            {"id": "1ce63c42-3e1e-45ef-8c71-b5244b39c184"},
        ),
        ({"at": "2026-11-26T15:43:21Z"}, {"at": "2026-12-02T15:00:40.455661Z"}),
        ({"key": "grk_..."}, {"key": "grk_zIB4KiNkoL5WnuY1cbz27Eb7COpd3Mr"}),
        ({"url": "http://127.0.0.1:8000/v1/feedback/Q2x"}, {"url": "http://127.0.0.1:41234/v1/x"}),
        ({"answer": "Kennedy and ..."}, {"answer": "Kennedy and Khrushchev sent secret messages"}),
        ({"points": 5}, {"points": 5.0}),
        ({"items": [{"a": 1}]}, {"items": [{"a": 1}, {"a": 2}]}),
        ({"items": []}, {"items": []}),
    ],
)
def test_matching_samples(sample: Any, actual: Any) -> None:
    assert json_mismatches(sample, actual) == []


@pytest.mark.parametrize(
    ("sample", "actual", "problem"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, "$.b: missing in the README"),
        ({"a": 1, "b": 2}, {"a": 1}, "$.b: only in the README"),
        (
            {"v": "1.0.0"},
            {"v": "2.3.0"},
            "$.v: the README shows '1.0.0', the service answered '2.3.0'",
        ),
        ({"n": None}, {"n": 3}, "$.n: the README shows None, the service answered 3"),
        ({"b": True}, {"b": 1}, "$.b: the README shows True, the service answered 1"),
        ({"x": [{"a": 1}]}, {"x": [{"a": 1, "c": 0}]}, "$.x[0].c: missing in the README"),
        ({"x": []}, {"x": [1]}, "$.x: the README shows 0 items, the service 1"),
        ({"x": [1, 2]}, {"x": [1]}, "$.x: the README shows 2 items, the service 1"),
        ({"t": "Kennedy ..."}, {"t": "Khrushchev"}, "$.t: 'Khrushchev' != 'Kennedy ...'"),
        ({"id": UUID_A}, {"id": "plain"}, "$.id: "),
    ],
)
def test_mismatching_samples(sample: Any, actual: Any, problem: str) -> None:
    problems = json_mismatches(sample, actual)
    assert len(problems) == 1
    assert problems[0].startswith(problem)
