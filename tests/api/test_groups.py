"""Answer groups through the API: computed from the answers, recomputed when answers or the
rubric change, graded as a group through the one override path, split and moved by hand."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import CallbackDelivery, ScoreOverride
from service.domain.grouping import service as grouping_service
from service.domain.jobs.service import JobPolicy, run_next_job
from tests.conftest import client_as, create_key
from tests.factories import rubric_data, submit

Q = "backchannel-q1"
SECRET_TALKS = (
    "Kennedy and Khrushchev sent secret messages to each other, which helped them avoid war."
)
MISSILES = "The Soviet Union put nuclear missiles in Cuba and the United States found them."
# Same words, other case, spacing and punctuation: the estimator always groups these.
SECRET_TALKS_AGAIN = (
    "kennedy and khrushchev  sent secret messages to each other which helped them avoid war"
)
MISSILES_AGAIN = "The Soviet Union put nuclear missiles in Cuba, and the United States found them!"
UNRELATED = "I like turtles."


def factory(client: TestClient) -> sessionmaker[Session]:
    maker: sessionmaker[Session] = client.app.state.sessionmaker  # type: ignore[attr-defined]
    return maker


def count(client: TestClient, model: Any, *conditions: Any) -> int:
    with factory(client)() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def post_answers(lms: TestClient, texts: list[str]) -> list[str]:
    return [submit(lms, text, learner_id=f"learner-{i}")["id"] for i, text in enumerate(texts)]


def groups(client: TestClient, question_id: str = Q, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/questions/{question_id}/groups", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def members(client: TestClient, group_id: str) -> list[str]:
    response = client.get(f"/v1/questions/{Q}/groups/{group_id}")
    assert response.status_code == 200, response.text
    return [m["submission_id"] for m in response.json()["members"]]


def group_of(client: TestClient, submission_id: str) -> str:
    """The id of the group that holds ``submission_id``."""
    for item in groups(client, limit=200)["items"]:
        if submission_id in members(client, item["id"]):
            group_id: str = item["id"]
            return group_id
    raise AssertionError(f"{submission_id} is in no group")


def grade(client: TestClient, group_id: str, points: float, **extra: Any) -> Any:
    body = {"points": points, "reason": "Same answer, same score.", **extra}
    return client.post(f"/v1/questions/{Q}/groups/{group_id}/grade", json=body)


def test_duplicates_share_a_group_and_listing_is_deterministic(
    lms: TestClient, instructor: TestClient
) -> None:
    ids = post_answers(lms, [SECRET_TALKS, MISSILES, SECRET_TALKS_AGAIN, MISSILES_AGAIN, UNRELATED])
    first = groups(instructor)
    assert first["answers"] == 5
    assert sum(item["size"] for item in first["items"]) == 5
    assert first["total"] == len(first["items"])
    talks = group_of(instructor, ids[0])
    assert group_of(instructor, ids[2]) == talks
    assert group_of(instructor, ids[3]) == group_of(instructor, ids[1]) != talks
    assert group_of(instructor, ids[4]) not in (talks, group_of(instructor, ids[1]))
    sizes = [item["size"] for item in first["items"]]
    assert sizes == sorted(sizes, reverse=True)
    item = next(i for i in first["items"] if i["id"] == talks)
    assert item["representative"]["submission_id"] in (ids[0], ids[2])
    assert item["representative"]["answer"] in (SECRET_TALKS, SECRET_TALKS_AGAIN)
    criteria = [c["id"] for c in item["criteria"]]
    assert criteria == [c["id"] for c in rubric_data(Q)["criteria"]]
    machine = [instructor.get(f"/v1/submissions/{i}").json()["points"] for i in (ids[0], ids[2])]
    assert (item["min_points"], item["max_points"]) == (min(machine), max(machine))
    assert item["overridden"] == 0
    # Computing again from the same answers gives the same groups, ids included.
    grouping_service_items = groups(instructor)["items"]
    assert [(i["id"], i["size"], i["position"]) for i in grouping_service_items] == [
        (i["id"], i["size"], i["position"]) for i in first["items"]
    ]


def test_pages_of_groups_follow_the_cursor(lms: TestClient, instructor: TestClient) -> None:
    post_answers(lms, [SECRET_TALKS, MISSILES, UNRELATED])
    everything = groups(instructor)["items"]
    page = groups(instructor, limit=1)
    seen = [i["id"] for i in page["items"]]
    while page["next_cursor"] is not None:
        page = groups(instructor, limit=1, cursor=page["next_cursor"])
        seen += [i["id"] for i in page["items"]]
    assert seen == [i["id"] for i in everything]
    assert len(seen) == 3


def test_a_new_answer_joins_its_group(lms: TestClient, instructor: TestClient) -> None:
    ids = post_answers(lms, [SECRET_TALKS, MISSILES])
    talks = group_of(instructor, ids[0])
    newer = submit(lms, SECRET_TALKS_AGAIN, learner_id="late")["id"]
    listing = groups(instructor)
    assert listing["answers"] == 3
    assert group_of(instructor, newer) == talks
    assert next(i for i in listing["items"] if i["id"] == talks)["size"] == 2


def test_a_large_question_is_left_to_the_worker(
    lms: TestClient, instructor: TestClient, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The threshold made small, rather than posting a thousand answers.
    monkeypatch.setattr(grouping_service, "ON_DEMAND_MAX", 2)
    ids = post_answers(lms, [SECRET_TALKS, MISSILES, SECRET_TALKS_AGAIN])
    waiting = groups(instructor)
    assert (waiting["stale"], waiting["items"], waiting["answers"]) == (True, [], 0)
    assert grouping_service.recompute_stale(factory(client)) == 1
    done = groups(instructor)
    assert (done["stale"], done["answers"], done["total"]) == (False, 3, 2)
    assert group_of(instructor, ids[0]) == group_of(instructor, ids[2])
    # A new answer: the list shows the groups it has until the worker has regrouped.
    submit(lms, MISSILES_AGAIN, learner_id="late")
    assert groups(instructor)["stale"] is True
    assert groups(instructor)["answers"] == 3


def test_a_rubric_change_regroups_with_the_new_criteria(
    lms: TestClient, instructor: TestClient, client: TestClient
) -> None:
    post_answers(lms, [SECRET_TALKS, MISSILES])
    before = groups(instructor)
    rubric = rubric_data(Q)
    rubric.pop("id")
    rubric["criteria"] = rubric["criteria"][:2]
    assert instructor.put(f"/v1/questions/{Q}/rubric", json=rubric).status_code == 200
    # The worker notices the new version (no mark needed) and regroups once.
    assert grouping_service.recompute_stale(factory(client)) == 1
    assert grouping_service.recompute_stale(factory(client)) == 0
    job = instructor.post(f"/v1/questions/{Q}/rescore").json()
    run_next_job(factory(client), client.app.state.graders, JobPolicy())  # type: ignore[attr-defined]
    assert instructor.get(f"/v1/jobs/{job['id']}").json()["status"] == "succeeded"
    after = groups(instructor)
    assert [c["id"] for c in after["items"][0]["criteria"]] == [c["id"] for c in rubric["criteria"]]
    assert len(before["items"][0]["criteria"]) > len(after["items"][0]["criteria"])
    assert after["computed_at"] > before["computed_at"]


def test_grading_a_group_writes_one_override_per_member(
    lms: TestClient, instructor: TestClient
) -> None:
    assert lms.put("/v1/callback", json={"url": "http://127.0.0.1:9/hook"}).status_code == 200
    ids = post_answers(lms, [SECRET_TALKS, SECRET_TALKS_AGAIN, SECRET_TALKS + " ", MISSILES])
    talks = group_of(instructor, ids[0])
    assert set(members(instructor, talks)) == set(ids[:3])
    single = instructor.post(
        f"/v1/submissions/{ids[1]}/overrides", json={"points": 2, "reason": "Looked at it."}
    )
    assert single.status_code == 201
    outbox_before = count(lms, CallbackDelivery, CallbackDelivery.event == "submission.overridden")

    graded = grade(instructor, talks, 8)
    assert graded.status_code == 200, graded.text
    body = graded.json()
    assert (body["group_id"], body["applied"], body["skipped"]) == (talks, 2, 1)
    assert len(body["override_ids"]) == 2
    for submission_id in (ids[0], ids[2]):
        stored = instructor.get(f"/v1/submissions/{submission_id}").json()
        assert (stored["points"], stored["overridden"]) == (8, True)
        trail = instructor.get(f"/v1/submissions/{submission_id}/overrides").json()["items"]
        assert [(o["new_points"], o["reason"], o["answer_group_id"]) for o in trail] == [
            (8, "Same answer, same score.", talks)
        ]
        assert trail[0]["id"] in body["override_ids"]
        assert trail[0]["by_key_name"] == "Ms Rivera"
    # The one overridden by hand is left alone.
    assert instructor.get(f"/v1/submissions/{ids[1]}").json()["points"] == 2
    outbox = count(lms, CallbackDelivery, CallbackDelivery.event == "submission.overridden")
    assert outbox == outbox_before + 2
    assert count(lms, ScoreOverride, ScoreOverride.answer_group_id.is_not(None)) == 2
    listed = next(i for i in groups(instructor)["items"] if i["id"] == talks)
    assert listed["overridden"] == 3

    # Grading the group again replaces its own grades, still not the hand-made one...
    again = grade(instructor, talks, 7).json()
    assert (again["applied"], again["skipped"]) == (2, 1)
    # ...unless asked to.
    everyone = grade(instructor, talks, 6, include_overridden=True).json()
    assert (everyone["applied"], everyone["skipped"]) == (3, 0)
    assert instructor.get(f"/v1/submissions/{ids[1]}").json()["points"] == 6
    assert count(lms, ScoreOverride) == 1 + 2 + 2 + 3


def test_one_override_of_a_group_grade_reverts_alone(
    lms: TestClient, instructor: TestClient
) -> None:
    assert lms.put("/v1/callback", json={"url": "http://127.0.0.1:9/hook"}).status_code == 200
    ids = post_answers(lms, [SECRET_TALKS, SECRET_TALKS_AGAIN, MISSILES])
    machine = {i: instructor.get(f"/v1/submissions/{i}").json()["points"] for i in ids}
    talks = group_of(instructor, ids[0])
    body = grade(instructor, talks, 9).json()
    first, second = body["override_ids"]
    by_submission = {
        instructor.get(f"/v1/submissions/{i}/overrides").json()["items"][0]["id"]: i
        for i in ids[:2]
    }
    reverted_submission = by_submission[first]
    outbox_before = count(lms, CallbackDelivery)
    path = f"/v1/submissions/{reverted_submission}/overrides/{first}/revert"
    reverted = instructor.post(path)
    assert reverted.status_code == 201, reverted.text
    assert reverted.json()["reverts_override_id"] == first
    assert (reverted.json()["old_points"], reverted.json()["new_points"]) == (
        9,
        machine[reverted_submission],
    )
    stored = instructor.get(f"/v1/submissions/{reverted_submission}").json()
    assert (stored["points"], stored["overridden"]) == (machine[reverted_submission], False)
    other = instructor.get(f"/v1/submissions/{by_submission[second]}").json()
    assert (other["points"], other["overridden"]) == (9, True)
    trail = instructor.get(f"/v1/submissions/{reverted_submission}/overrides").json()["items"]
    assert [o["reverts_override_id"] for o in trail] == [None, first]
    assert count(lms, CallbackDelivery) == outbox_before + 1

    assert instructor.post(path).json()["code"] == "conflict"  # reverted already
    revert_of_revert = f"/v1/submissions/{reverted_submission}/overrides/{trail[1]['id']}/revert"
    assert instructor.post(revert_of_revert).json()["code"] == "unprocessable"
    unknown = instructor.post(f"/v1/submissions/{reverted_submission}/overrides/{second}/revert")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_reverting_returns_to_the_previous_override(
    lms: TestClient, instructor: TestClient
) -> None:
    ids = post_answers(lms, [SECRET_TALKS, SECRET_TALKS_AGAIN])
    overrides = f"/v1/submissions/{ids[0]}/overrides"
    hand = instructor.post(overrides, json={"points": 3, "reason": "By hand."}).json()
    talks = group_of(instructor, ids[0])
    grade(instructor, talks, 7, include_overridden=True)
    newest = instructor.get(overrides).json()["items"][-1]
    older = instructor.post(f"{overrides}/{hand['id']}/revert")
    assert (older.status_code, older.json()["code"]) == (409, "conflict")  # a newer one first
    assert instructor.post(f"{overrides}/{newest['id']}/revert").status_code == 201
    stored = instructor.get(f"/v1/submissions/{ids[0]}").json()
    assert (stored["points"], stored["overridden"]) == (3, True)


def test_split_and_moved_answers_stay_put_when_regrouped(
    lms: TestClient, instructor: TestClient
) -> None:
    ids = post_answers(
        lms, [SECRET_TALKS, SECRET_TALKS_AGAIN, SECRET_TALKS + "!", MISSILES, MISSILES_AGAIN]
    )
    talks, missiles = group_of(instructor, ids[0]), group_of(instructor, ids[3])
    split = instructor.post(
        f"/v1/questions/{Q}/groups/{talks}/split", json={"submission_ids": [ids[2]]}
    )
    assert split.status_code == 201, split.text
    new = split.json()
    assert (new["size"], new["manual"]) == (1, True)
    assert new["representative"]["submission_id"] == ids[2]
    moved = instructor.post(
        f"/v1/questions/{Q}/groups/{missiles}/move",
        json={"submission_ids": [ids[4]], "to_group_id": talks},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["id"], moved.json()["size"]) == (talks, 3)

    submit(lms, MISSILES + " ", learner_id="late")  # marks the grouping stale
    regrouped = groups(instructor)
    assert regrouped["answers"] == 6
    assert set(members(instructor, talks)) == {ids[0], ids[1], ids[4]}
    assert members(instructor, new["id"]) == [ids[2]]
    detail = instructor.get(f"/v1/questions/{Q}/groups/{talks}").json()
    pinned = {m["submission_id"]: m["pinned"] for m in detail["members"]}
    assert pinned == {ids[0]: False, ids[1]: False, ids[4]: True}
    assert group_of(instructor, ids[3]) == missiles


def test_moving_every_answer_out_deletes_the_group(lms: TestClient, instructor: TestClient) -> None:
    ids = post_answers(lms, [SECRET_TALKS, MISSILES])
    talks, missiles = group_of(instructor, ids[0]), group_of(instructor, ids[1])
    body = {"submission_ids": [ids[1]], "to_group_id": talks}
    assert (
        instructor.post(f"/v1/questions/{Q}/groups/{missiles}/move", json=body).status_code == 200
    )
    assert instructor.get(f"/v1/questions/{Q}/groups/{missiles}").status_code == 404
    assert groups(instructor)["total"] == 1


def test_groups_outside_the_scope_are_not_found(
    client: TestClient, app: FastAPI, lms: TestClient, instructor: TestClient
) -> None:
    ids = post_answers(lms, [SECRET_TALKS, MISSILES])
    talks = group_of(instructor, ids[0])
    paths = [f"/v1/questions/{Q}/groups", f"/v1/questions/{Q}/groups/{talks}"]
    assert client.post("/v1/courses", json={"id": "other", "title": "Other"}).status_code == 201
    outsider = client_as(app, create_key(client, "instructor", "Mr Other", courses=["other"]))
    for path in paths:
        assert outsider.get(path).json()["code"] == "not_found"
        assert lms.get(path).status_code == 403
    assert grade(outsider, talks, 1).status_code == 404
    school = client.post("/v1/organizations", json={"id": "other-school", "name": "Other"})
    other_admin = client_as(app, school.json()["admin_key"]["key"])
    assert other_admin.post("/v1/questions", json=rubric_data(Q)).status_code == 201
    assert groups(other_admin)["items"] == []  # the same question id, its own (no answers)
    assert other_admin.get(paths[1]).status_code == 404
    assert grade(other_admin, talks, 1).status_code == 404
    split = {"submission_ids": [ids[0]]}
    assert other_admin.post(f"{paths[1]}/split", json=split).status_code == 404
    revert = f"/v1/submissions/{ids[0]}/overrides/1/revert"
    assert other_admin.post(revert).status_code == 404
    assert client.get(paths[1]).status_code == 200  # the admin of the organisation


def test_bad_requests_get_problem_details(lms: TestClient, instructor: TestClient) -> None:
    ids = post_answers(lms, [SECRET_TALKS, SECRET_TALKS_AGAIN, MISSILES])
    talks, missiles = group_of(instructor, ids[0]), group_of(instructor, ids[2])
    base = f"/v1/questions/{Q}/groups"

    def problem(path: str, body: Any) -> tuple[int, str]:
        response = instructor.post(f"{base}/{path}", json=body)
        assert response.headers["content-type"].startswith("application/problem+json")
        return response.status_code, response.json()["code"]

    invalid = (422, "group_members_invalid")
    assert problem(f"{talks}/split", {"submission_ids": []}) == (422, "validation_error")
    too_many = {"submission_ids": [ids[0]] * 1001}
    assert problem(f"{talks}/split", too_many) == (422, "validation_error")
    assert problem(f"{talks}/split", {"submission_ids": [ids[2]]}) == invalid  # another group's
    assert problem(f"{talks}/split", {"submission_ids": [ids[0], ids[0]]}) == invalid
    assert problem(f"{talks}/split", {"submission_ids": ids[:2]}) == invalid  # every member
    assert problem(f"{talks}/split", {"submission_ids": ["not-a-uuid"]}) == (
        422,
        "validation_error",
    )
    same = {"submission_ids": [ids[0]], "to_group_id": talks}
    assert problem(f"{talks}/move", same) == invalid
    unknown_target = {"submission_ids": [ids[0]], "to_group_id": ids[0]}
    assert problem(f"{talks}/move", unknown_target) == (404, "not_found")
    assert problem(f"{missiles}/grade", {"points": 11, "reason": "Too many."}) == (
        422,
        "unprocessable",
    )
    assert problem(f"{missiles}/grade", {"points": 5, "reason": " "}) == (422, "validation_error")
    assert problem(f"{ids[0]}/grade", {"points": 5, "reason": "x"}) == (404, "not_found")
    assert instructor.get(base, params={"cursor": "x"}).json()["code"] == "invalid_cursor"
    assert instructor.get(base, params={"limit": 500}).json()["code"] == "validation_error"
    assert instructor.get("/v1/questions/nope/groups").json()["code"] == "not_found"
    # Nothing was changed by the refusals.
    assert count(instructor, ScoreOverride) == 0
