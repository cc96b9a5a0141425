"""What the service promises across restarts and failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from service.config import Settings
from service.db.models import RubricVersion
from service.domain.rubrics.service import GraderCache
from service.errors import RubricInvalid
from service.main import create_app
from service.scoring import Grader
from tests.conftest import ADMIN_KEY, RUBRICS_DIR, auth
from tests.factories import rubric_data, submit, write_rubric

ANSWER = "Kennedy and Khrushchev negotiated secretly and avoided war."


def test_submissions_survive_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as first:
        created = submit(first, ANSWER)
    with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as second:
        response = second.get(f"/v1/submissions/{created['id']}")
    assert response.status_code == 200
    # The feedback link is shown once, when the submission is created (only its hash is kept).
    assert created["feedback_url"].startswith("http://testserver/v1/feedback/")
    assert response.json() == {**created, "feedback_url": None}


class BrokenGraders(GraderCache):
    """Stands in for an engine fault (a bug, a corrupt rubric): every grade raises."""

    def get(self, version: RubricVersion) -> Grader:
        raise RuntimeError("engine fault")


def test_scoring_failure_keeps_the_answer_pending_and_it_is_scored_later(
    settings: Settings,
) -> None:
    broken_app = create_app(settings)
    broken_app.state.graders = BrokenGraders()
    with TestClient(broken_app, headers=auth(ADMIN_KEY)) as broken:
        response = broken.post(
            "/v1/submissions",
            json={"question_id": "backchannel-q1", "learner_id": "s1", "answer": ANSWER},
        )
        assert response.status_code == 202
        pending = response.json()
        assert pending["status"] == "pending"
        assert pending["result"] is None
        assert "saved" in pending["message"]
        assert broken.get(f"/v1/submissions/{pending['id']}").json()["status"] == "pending"

    with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as healthy:
        stored = healthy.get(f"/v1/submissions/{pending['id']}").json()
    assert stored["status"] == "scored"
    assert stored["answer"] == ANSWER
    assert stored["result"]["points"] > 0
    assert stored["message"] is None


def copy_rubrics(tmp_path: Path) -> Path:
    directory = tmp_path / "rubrics"
    shutil.copytree(RUBRICS_DIR, directory)
    return directory


def test_changed_rubric_file_creates_a_new_version_and_old_scores_keep_theirs(
    settings: Settings, tmp_path: Path
) -> None:
    directory = copy_rubrics(tmp_path)
    settings = settings.model_copy(update={"rubrics_dir": directory})
    with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as client:
        first = submit(client, ANSWER)
    assert first["result"]["rubric_version"] == 1

    data = rubric_data("backchannel-q1")
    data["title"] = "Backchannels and decisions (revised)"
    data["criteria"][0]["feedback"]["miss"] = "Revised hint for this idea."
    write_rubric(directory, data)
    for _ in range(2):  # a second restart with the same file must not add a version
        with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as client:
            question = client.get("/v1/questions/backchannel-q1").json()
            second = submit(client, "Nothing relevant here at all.")
            old = client.get(f"/v1/submissions/{first['id']}").json()
        assert question["rubric_version"] == 2
        assert question["title"] == "Backchannels and decisions (revised)"
        assert second["result"]["rubric_version"] == 2
        assert old == {**first, "feedback_url": None}  # the link is shown only once


def test_unchanged_rubrics_do_not_create_versions_on_restart(settings: Settings) -> None:
    for _ in range(3):
        with TestClient(create_app(settings), headers=auth(ADMIN_KEY)) as client:
            versions = [q["rubric_version"] for q in client.get("/v1/questions").json()["items"]]
        assert versions == [1, 1, 1]


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda d: d.update(colour="blue"), "colour", "Extra inputs are not permitted"),
        (lambda d: d.pop("prompt"), "prompt", "Field required"),
        (lambda d: d.update(max_points=-1), "max_points", "greater than 0"),
        (
            lambda d: d["criteria"][1].update(phrasings=["the", "of it"]),
            "criteria[1].phrasings[0]",
            "no content words",
        ),
        (
            lambda d: d["criteria"][0].update(phrasings=["photosynthesis"]),
            "criteria[0].phrasings",
            "not covered by reference_answers[0]",
        ),
        (lambda d: d.update(id="other-id"), "id", "must match the file name"),
    ],
)
def test_invalid_rubric_fails_startup_naming_file_field_and_problem(
    settings: Settings, tmp_path: Path, mutate: object, field: str, problem: str
) -> None:
    directory = copy_rubrics(tmp_path)
    data = rubric_data("backchannel-q2")
    mutate(data)  # type: ignore[operator]
    path = directory / "backchannel-q2.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settings = settings.model_copy(update={"rubrics_dir": directory})
    with (
        pytest.raises(RubricInvalid) as raised,
        TestClient(create_app(settings), headers=auth(ADMIN_KEY)),
    ):
        pass
    assert raised.value.source == str(path)
    assert raised.value.field == field
    assert problem in raised.value.problem


def test_rubric_file_that_is_not_yaml_fails_startup(settings: Settings, tmp_path: Path) -> None:
    directory = copy_rubrics(tmp_path)
    (directory / "backchannel-q3.yaml").write_text("id: [unclosed\n")
    settings = settings.model_copy(update={"rubrics_dir": directory})
    with (
        pytest.raises(RubricInvalid, match=r"backchannel-q3\.yaml: \(file\): not valid YAML"),
        TestClient(create_app(settings), headers=auth(ADMIN_KEY)),
    ):
        pass
