"""``python -m service.evaluation.pilot`` on the hand-made dataset in ``tests/data``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from service.evaluation.pilot import main

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "graded_answers.jsonl"


def run(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> dict[str, Any]:
    assert main([str(path), "--json", *args]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_pilot_random_and_uncalibrated_are_compared_on_the_same_test_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, FIXTURE, "--budget", "5", "--seeds", "2", "--test-share", "0.25")
    assert result["questions"] == 4
    assert result["questions_without_references"] == 0
    assert result["test_answers_per_seed"] == 4 * 3  # a quarter of each question's 12
    for strategy in ("pilot", "random", "uncalibrated"):
        assert math.isfinite(result[f"{strategy}.rmse"])
        assert result[f"{strategy}.rmse.sd"] >= 0
    # Five grades calibrate (few-shot): the pilot's scores are no longer the machine's.
    assert result["pilot.rmse"] != result["uncalibrated.rmse"]
    established, decisions = (int(n) for n in result["established"].split("/"))
    assert decisions == 4 * 2
    assert 0 <= established <= decisions


def test_questions_without_references_are_left_out_and_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    for row in rows:
        if row["question_id"] == "friction":
            row["reference_answers"] = []
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    result = run(capsys, path, "--budget", "5", "--seeds", "1")
    assert result["questions"] == 3
    assert result["questions_without_references"] == 1


def test_no_question_with_references_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "answers.jsonl"
    path.write_text(
        "\n".join(json.dumps({**row, "reference_answers": []}) for row in rows) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(SystemExit) as exit_info:
        main([str(path)])
    assert exit_info.value.code == 2
    assert "no question has reference answers" in capsys.readouterr().err
