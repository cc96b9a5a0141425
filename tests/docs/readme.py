"""Reading README.md as a test script: its fenced blocks, which of them run, and the rule by
which a sample JSON response in it matches a real one.

Conventions (the README's Development section states them for writers):

- A ```` ```sh ```` or ```` ```bash ```` block is run, in order, in one bash session, unless
  the line just before its opening fence is ``<!-- illustrative -->``.
- A ```` ```json ```` block whose previous fenced block is a runnable shell block is a sample
  response: it is compared with the last line the shell block printed (see ``json_mismatches``).
  Any other ```` ```json ```` block (a payload, a fragment) must be marked illustrative too,
  so that none is silently left unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ILLUSTRATIVE = "<!-- illustrative -->"
SHELL_LANGUAGES = frozenset({"sh", "bash"})
_FENCE = re.compile(r"^```(\S*)\s*$")

# Values that differ on every run, so a README sample cannot show the real one.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
_SECRET = re.compile(r"^(grk|whsec)_")
_URL = re.compile(r"^https?://")
_ADDRESS = re.compile(r"^[\w.-]+:\d+$")  # host:port, as in an LTI tool's "domain"
ELLIPSES = ("...", "…")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, text, first line number (1-based) and marking."""

    language: str
    text: str
    line: int
    illustrative: bool

    @property
    def runnable(self) -> bool:
        return self.language in SHELL_LANGUAGES and not self.illustrative


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced block of ``markdown`` in order (fences are never nested in the README)."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        previous = lines[index - 1].strip() if index > 0 else ""
        blocks.append(
            Block(
                language=opening.group(1),
                text="\n".join(lines[index + 1 : end]) + "\n",
                line=index + 1,
                illustrative=previous == ILLUSTRATIVE,
            )
        )
        index = end + 1
    return blocks


def sample_responses(blocks: list[Block]) -> dict[int, Block]:
    """The JSON samples, keyed by the index (in ``blocks``) of the shell block they follow."""
    samples: dict[int, Block] = {}
    for index, block in enumerate(blocks):
        if block.language == "json" and not block.illustrative:
            if index == 0 or not blocks[index - 1].runnable:
                raise ValueError(
                    f"README.md line {block.line}: a json block must follow a runnable shell "
                    f"block (it is then compared with its output) or be marked {ILLUSTRATIVE}"
                )
            samples[index - 1] = block
    return samples


def _varies(value: Any) -> bool:
    return isinstance(value, str) and any(
        pattern.match(value) for pattern in (_UUID, _TIMESTAMP, _SECRET, _URL, _ADDRESS)
    )


def _same_type(sample: Any, actual: Any) -> bool:
    # JSON has one number type; 5 in a sample may stand for 5.0 in an answer.
    numbers = (int, float)
    if isinstance(sample, bool) or isinstance(actual, bool):
        return type(sample) is type(actual)
    if isinstance(sample, numbers) and isinstance(actual, numbers):
        return True
    return type(sample) is type(actual)


def json_mismatches(sample: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` (a real response) departs from ``sample`` (the README's).

    The rule: the same keys at every level of every object, and the same JSON types; lists
    show a prefix of the real items (at least one if the real list has any, none only if it
    has none); values are equal, except strings that vary from run to run (UUIDs,
    timestamps, keys and secrets, URLs and host:port addresses), which need only be such
    strings too, and a sample string ending in "..." or "…", which stands for any string
    starting with what precedes it.
    """
    if not _same_type(sample, actual):
        return [f"{path}: the README shows {sample!r}, the service answered {actual!r}"]
    if isinstance(sample, dict):
        problems = [f"{path}.{key}: only in the README" for key in sample if key not in actual]
        problems += [f"{path}.{key}: missing in the README" for key in actual if key not in sample]
        for key in sample.keys() & actual.keys():
            problems += json_mismatches(sample[key], actual[key], f"{path}.{key}")
        return problems
    if isinstance(sample, list):
        if len(sample) > len(actual) or (not sample and actual) or (sample and not actual):
            return [f"{path}: the README shows {len(sample)} items, the service {len(actual)}"]
        problems = []
        for position, item in enumerate(sample):
            problems += json_mismatches(item, actual[position], f"{path}[{position}]")
        return problems
    if isinstance(sample, str) and (_varies(sample) or _varies(actual)):
        return [] if _varies(sample) == _varies(actual) else [f"{path}: {sample!r} vs {actual!r}"]
    if isinstance(sample, str) and sample.endswith(ELLIPSES):
        prefix = sample.rstrip(".…")
        return [] if actual.startswith(prefix) else [f"{path}: {actual!r} != {sample!r}"]
    if sample != actual:
        return [f"{path}: the README shows {sample!r}, the service answered {actual!r}"]
    return []
