"""``python -m service.evaluation.zero_shot_confidence``: the expected error under a uniform
teacher score worked out by hand, and the command on the hand-made dataset in ``tests/data``
(its ``train`` and ``test`` rows as two datasets, so that leave-one-dataset-out has one to
fit on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.evaluation import confidence as confidence_cli
from service.evaluation.zero_shot_confidence import (
    CANDIDATES,
    main,
    parse_spec,
    uniform_error,
)

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "graded_answers.jsonl"


def test_uniform_error_by_hand() -> None:
    reported = np.array([0.5, 0.0, 1.0, 1.0])
    low = np.array([0.0, 0.0, 0.2, 0.0])
    high = np.array([1.0, 1.0, 0.2, 0.5])
    # Mid-interval: 1/4; at an end: half the width; a point: the distance; outside the
    # interval: the distance to its middle (1 - 0.25).
    assert uniform_error(reported, low, high) == pytest.approx([0.25, 0.5, 0.8, 0.75])


def test_a_split_follows_the_last_at_sign() -> None:
    assert parse_spec("data/answers.jsonl@train") == (Path("data/answers.jsonl"), "train")
    assert parse_spec("data/answers.jsonl") == (Path("data/answers.jsonl"), None)
    assert parse_spec("me@host/answers.jsonl") == (Path("me@host/answers.jsonl"), None)


def run(capsys: pytest.CaptureFixture[str], *specs: str) -> dict[str, Any]:
    assert main([*specs, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_every_candidate_on_two_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, f"{FIXTURE}@train", f"{FIXTURE}@test")
    assert set(result) == {f"{FIXTURE}@train", f"{FIXTURE}@test"}
    assert result[f"{FIXTURE}@train"]["n"] == 32
    assert result[f"{FIXTURE}@test"]["n"] == 16
    for data in result.values():
        assert set(data["candidates"]) == set(CANDIDATES)
        for name, figures in data["candidates"].items():
            assert figures["aurc"] >= 0.0
            # Only the rule and the profile have a flag of their own.
            assert (figures["flagged_share"] is None) == (name not in ("rule", "profile"))


def test_the_rule_is_the_service_zero_shot_confidence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The same rows scored by ``service.evaluation.confidence`` give the same rule figures.
    ours = run(capsys, f"{FIXTURE}@test")[f"{FIXTURE}@test"]
    assert "profile" not in ours["candidates"]  # one dataset: nothing to fit on
    assert confidence_cli.main([str(FIXTURE), "--split", "test", "--json"]) == 0
    theirs = json.loads(capsys.readouterr().out)
    assert ours["n"] == theirs["n"]
    assert ours["error"] == pytest.approx(theirs["error"])
    rule = ours["candidates"]["rule"]
    assert rule["ratio"] == pytest.approx(theirs["rule"]["ratio"])
    assert rule["aurc"] == pytest.approx(theirs["rule"]["aurc"])
    assert rule["flagged_share"] == pytest.approx(theirs["rule"]["flagged_share"])


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"{FIXTURE}@train", f"{FIXTURE}@test"]) == 0
    out = capsys.readouterr().out
    assert "profile" in out
    assert "uniform" in out


def test_an_empty_split_is_an_error() -> None:
    with pytest.raises(SystemExit):
        main([f"{FIXTURE}@nosuchsplit"])
