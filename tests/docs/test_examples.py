"""The sample files of examples/ are valid by the service's own rules.

The README test posts every one of them to a live server; these checks name the file and
field when one goes wrong, and run in a moment.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from service.domain.rubrics.service import validate_document
from service.domain.submissions.schemas import SubmissionCreate
from tests.support.server import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "examples"
README = PROJECT_ROOT / "README.md"
EDIT = "rubric-backchannel-q1.json"


def _load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_every_example_is_used_by_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    files = sorted(path.name for path in EXAMPLES.iterdir())
    assert files == ["batch.json", "question.json", "rubric-backchannel-q1.json"]
    for name in files:
        assert f"@examples/{name}" in readme, f"README.md does not use examples/{name}"


def test_question_is_a_valid_rubric_document() -> None:
    body = _load("question.json")
    # course_id belongs to the request, not to the rubric document.
    assert body.pop("course_id") == "default"
    validate_document(body, source="examples/question.json")


def test_rubric_edit_is_the_shipped_rubric_with_one_more_phrasing() -> None:
    edit = _load(EDIT)
    validate_document(
        {**edit, "id": "backchannel-q1"}, source="examples/rubric-backchannel-q1.json"
    )
    shipped = yaml.safe_load((PROJECT_ROOT / "rubrics" / "backchannel-q1.yaml").read_text())
    shipped.pop("id")
    added = {
        criterion["id"]: set(edited["phrasings"]) - set(criterion["phrasings"])
        for criterion, edited in zip(shipped["criteria"], edit["criteria"], strict=True)
    }
    assert {key: value for key, value in added.items() if value} == {
        "discreet-exchange": {"in confidence"}
    }
    for criterion in edit["criteria"]:
        criterion["phrasings"] = [p for p in criterion["phrasings"] if p != "in confidence"]
    assert edit == shipped


def test_batch_has_two_valid_answers_and_one_empty() -> None:
    """As the README says: each item is validated on its own, so the empty one fails alone."""
    good, other, empty = _load("batch.json")["items"]
    SubmissionCreate.model_validate(good)
    SubmissionCreate.model_validate(other)
    with pytest.raises(ValidationError, match="answer"):
        SubmissionCreate.model_validate(empty)
