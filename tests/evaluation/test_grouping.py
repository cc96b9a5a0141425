"""``python -m service.evaluation.grouping`` on the hand-made dataset in ``tests/data`` and on
tiny files whose purity and decision counts can be worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.evaluation.grouping import DISTANCE_THRESHOLDS, DUPLICATE_SIMILARITIES, main

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "graded_answers.jsonl"


def run(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict[str, Any]:
    assert main([str(path), "--json", *args]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def write(tmp_path: Path, answers: list[tuple[str, str, float]], max_score: float) -> Path:
    path = tmp_path / "answers.jsonl"
    lines = [
        json.dumps(
            {
                "question_id": question,
                "question": f"Question {question}?",
                "reference_answers": [],
                "answer": answer,
                "score": score,
                "max_score": max_score,
            }
        )
        for question, answer, score in answers
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(result: dict[str, Any], setting: str) -> dict[str, Any]:
    matches = [r for r in result["table"] if r["setting"].startswith(setting)]
    assert len(matches) == 1, result["table"]
    found: dict[str, Any] = matches[0]
    return found


def test_duplicates_with_different_gold_grades_count_as_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Two exact duplicates graded apart (the first, the representative, is right), and an
    # answer on its own; a second question with one answer.
    path = write(
        tmp_path,
        [("a", "Light.", 1.0), ("a", "light", 0.0), ("a", "Roots take water.", 1.0), ("b", "x", 0)],
        max_score=1.0,
    )
    exact = row(run(capsys, path), "exact duplicates only")
    assert exact["answers"] == 4
    assert exact["questions"] == 2
    assert exact["groups"] == 3
    assert exact["purity"] == pytest.approx(3 / 4)
    assert exact["decisions_to_gold"] == 4  # three groups and one correction
    assert exact["saved_by_groups"] == pytest.approx(1 / 4)
    assert exact["saved_to_gold"] == pytest.approx(0.0)


def test_grades_within_half_a_point_agree_on_a_wider_scale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = [("a", "Light.", 3.0), ("a", "light", 3.5), ("a", "LIGHT", 4.0)]
    exact = row(run(capsys, write(tmp_path, answers, max_score=5.0)), "exact duplicates only")
    assert exact["groups"] == 1
    assert exact["purity"] == pytest.approx(2 / 3)  # 4.0 is a point away from 3.0


def test_one_group_per_question_is_a_reference_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answers = [("a", "Light.", 1.0), ("a", "Roots take water.", 0.0), ("b", "Sugar", 1.0)]
    one = row(run(capsys, write(tmp_path, answers, max_score=1.0)), "one group per question")
    assert one["groups"] == 2
    assert one["purity"] == pytest.approx(2 / 3)


def test_default_setting_on_the_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, FIXTURE)
    assert [r["setting"] for r in result["table"]][:2] == [
        "exact duplicates only",
        "one group per question",
    ]
    default = result["table"][2]
    assert default["answers"] == 48
    assert default["questions"] == 4
    assert 4 <= default["groups"] <= 48
    assert 0.0 <= default["purity"] <= 1.0
    assert default["decisions_to_gold"] >= default["groups"]


def test_cross_validation_chooses_on_the_other_folds(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, FIXTURE, "--cv-folds", "4")
    assert len(result["folds"]) == 4
    assert sum(fold["answers"] for fold in result["folds"]) == 48
    assert row(result, "chosen by 4-fold CV")["answers"] == 48
    labels = {
        f"dup {d:g}, dist {'none' if t is None else f'{t:g}'}"
        for d in DUPLICATE_SIMILARITIES
        for t in DISTANCE_THRESHOLDS
    }
    assert {fold["setting"] for fold in result["folds"]} <= labels


def test_choosing_on_another_split(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, FIXTURE, "--split", "test", "--choose-split", "train")
    assert result["chosen"]["duplicate_similarity"] in DUPLICATE_SIMILARITIES
    assert row(result, "chosen on other split")["answers"] < 48


def test_choosing_on_the_reported_split_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(FIXTURE), "--split", "test", "--choose-split", "test"])
    assert "must differ" in capsys.readouterr().err


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--text-only", "--duplicate-similarity", "0.9", "--distance-threshold", "0.4"]
    assert main([str(FIXTURE), *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["setting", "answers", "groups"]
    assert lines[3].startswith("dup 0.9, dist 0.4, text only")
