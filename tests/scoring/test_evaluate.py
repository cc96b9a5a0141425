"""``python -m service.evaluate`` on a small hand-made dataset shipped in ``tests/data``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.evaluate import cv_groups, load_rows, main, metrics, score_step

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "graded_answers.jsonl"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main([str(FIXTURE), "--json", *args]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_zero_shot_agrees_with_the_gold_scores(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys)
    assert result["mode"] == "zero-shot"
    assert result["n"] == 48
    assert result["step"] == 0.5
    assert result["calibrated_share"] == 0.0
    assert float(result["pearson_r"]) > 0.6  # type: ignore[arg-type]
    for key in ("spearman_rho", "rmse", "qwk", "qwk_mean_by_question"):
        assert key in result
    assert "weighted_f1" not in result  # gold scores are not 0/1


def test_cross_validation_calibrates_on_other_folds(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "--cv-folds", "4")
    assert result["mode"] == "cross-validation (4 folds by auto)"
    assert result["n"] == 48
    assert result["calibrated_share"] == 1.0
    assert float(result["pearson_r"]) > 0.5  # type: ignore[arg-type]


def test_train_split_scores_only_the_test_split(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "--split", "test", "--train-split", "train")
    assert result["mode"] == "trained"
    assert result["n"] == 16
    assert result["calibrated_share"] == 1.0


def test_where_filters_rows(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "--where", "question_id=friction")
    assert result["n"] == 12
    assert result["questions"] == 1


def test_text_output_lists_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "pearson_r" in out
    assert "rmse" in out


def test_binary_gold_reports_classification_figures() -> None:
    result = metrics([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], 1.0, ["a"] * 5)
    assert result["accuracy"] == pytest.approx(0.8)
    assert "macro_f1" in result
    assert "weighted_f1" in result


def test_cv_groups_never_split_a_group() -> None:
    rows = load_rows(FIXTURE)
    assert score_step(rows) == 0.5
    by_question = cv_groups(rows, 2, "question", 0)
    for question in {row.question_id for row in rows}:
        assert (
            len(
                {g for row, g in zip(rows, by_question, strict=True) if row.question_id == question}
            )
            == 1
        )
    by_answer = cv_groups(rows, 3, "answer", 0)
    assert set(by_answer) == {0, 1, 2}
    assert by_answer == cv_groups(rows, 3, "answer", 0)  # seeded: same folds every run
