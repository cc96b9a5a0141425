"""``python -m service.evaluation.confidence``: risk-coverage figures worked out by hand, and
the command on the hand-made dataset in ``tests/data``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.evaluation.confidence import (
    REVIEW_SHARES,
    kept_error,
    main,
    ranking,
    removed_error_sum,
)

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "graded_answers.jsonl"


def test_the_least_confident_are_removed_first() -> None:
    confidence = np.array([0.9, 0.1, 0.5, 0.8])
    error = np.array([0.0, 2.0, 1.0, 0.0])
    assert removed_error_sum(confidence, error, 1) == 2.0
    assert removed_error_sum(confidence, error, 2) == 3.0
    assert kept_error(confidence, error, 0.5) == 0.0
    assert kept_error(confidence, error, 0.0) == pytest.approx(0.75)


def test_a_cut_through_equal_confidences_takes_their_mean() -> None:
    confidence = np.array([0.5, 0.5, 0.5, 0.5])
    error = np.array([1.0, 0.0, 0.0, 1.0])
    # Whatever the order in the file, one removed answer of the tied block counts at 0.5.
    assert removed_error_sum(confidence, error, 1) == 0.5
    assert removed_error_sum(confidence, error[::-1], 1) == 0.5
    result = ranking(confidence, error, np.zeros(4, dtype=bool))
    assert result["ratio"] == pytest.approx(1.0)
    assert result["aurc"] == pytest.approx(error.mean())
    assert np.isnan(result["error_flagged"])


def test_a_confidence_that_knows_the_errors_ranks_them_perfectly() -> None:
    rng = np.random.default_rng(0)
    error = rng.uniform(0, 1, 200)
    flagged = error > 0.8
    perfect = ranking(-error, error, flagged)
    backwards = ranking(error, error, flagged)
    assert perfect["ratio"] > 2 > backwards["ratio"]
    assert perfect["aurc"] < error.mean() < backwards["aurc"]
    risks = list(perfect["risk"].values())
    assert risks == sorted(risks, reverse=True)
    assert perfect["error_flagged"] > perfect["error_unflagged"]
    assert perfect["flagged_share"] == pytest.approx(flagged.mean())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main([str(FIXTURE), "--json", *args]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_cross_validation_reports_the_model_and_the_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "--cv-folds", "2", "--cv-by", "answer")
    assert result["n"] == 48
    assert result["profiled_share"] == 1.0
    for name in ("model", "rule"):
        figures = result[name]
        assert set(figures["risk"]) == {f"{s:.1f}" for s in REVIEW_SHARES}
        # Nothing sent to a teacher: the kept error is the machine's error.
        assert figures["risk"]["0.0"] == pytest.approx(result["error"])
        assert 0.0 <= figures["flagged_share"] <= 1.0
        assert 0.0 < figures["mean_confidence"] <= 1.0
    assert main([str(FIXTURE), "--cv-folds", "2", "--cv-by", "answer"]) == 0
    assert "model" in capsys.readouterr().out


def test_zero_shot_has_only_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys)
    assert result["mode"] == "zero-shot"
    assert result["profiled_share"] == 0.0
    assert result["model"] == result["rule"]
