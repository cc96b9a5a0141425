"""Helpers that build requests and rubric documents for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from tests.conftest import RUBRICS_DIR


def rubric_data(question_id: str = "backchannel-q1") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((RUBRICS_DIR / f"{question_id}.yaml").read_text())
    return data


def reference_answer(question_id: str, index: int = 0) -> str:
    answers: list[str] = rubric_data(question_id)["reference_answers"]
    return answers[index]


def submit(
    client: TestClient,
    answer: str,
    *,
    question_id: str = "backchannel-q1",
    learner_id: str = "learner-1",
    expected_status: int = 201,
) -> dict[str, Any]:
    response = client.post(
        "/v1/submissions",
        json={"question_id": question_id, "learner_id": learner_id, "answer": answer},
    )
    assert response.status_code == expected_status, response.text
    body: dict[str, Any] = response.json()
    return body


def write_rubric(directory: Path, data: dict[str, Any]) -> Path:
    path = directory / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path
