"""CSV exports neutralise formulas however they are disguised; date filters that the
database could not compare are 422 naming the field, on the list and before an export
starts streaming."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from fastapi.testclient import TestClient

from service.domain.exports import service as export_service
from tests.factories import submit

EXPORT = "/v1/exports/submissions.csv"


def exported_answers(instructor: TestClient) -> dict[str, str]:
    response = instructor.get(EXPORT)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    return {row["learner_id"]: row["answer"] for row in rows}


DISGUISED_FORMULAS = [
    '=HYPERLINK("http://127.0.0.1/x","They talked secretly")',
    "+cmd|' /C calc'!A0 They talked secretly",
    "-2+3 They talked secretly",
    "@SUM(1) They talked secretly",
    "\tThey talked secretly",
    "\rThey talked secretly",
    "   =1+1 They talked secretly",  # leading spaces
    "\u00a0\u3000=1 They talked secretly",  # no-break and ideographic spaces
    "\n=1 They talked secretly",
    "\u200b=1 They talked secretly",  # zero-width space
    "\u200c+1 They talked secretly",  # zero-width non-joiner
    "\u200d-1 They talked secretly",  # zero-width joiner
    "\u2060@A1 They talked secretly",  # word joiner
    "\ufeff=1 They talked secretly",  # byte order mark
    "\u200e=1 They talked secretly",  # left-to-right mark
    "\u200f=1 They talked secretly",  # right-to-left mark
    "\u202a=1 They talked secretly",  # left-to-right embedding
    "\u202b=1 They talked secretly",
    "\u202c=1 They talked secretly",
    "\u202d=1 They talked secretly",
    "\u202e=1 They talked secretly",  # right-to-left override
    "\u2066=1 They talked secretly",  # isolates
    "\u2067=1 They talked secretly",
    "\u2068=1 They talked secretly",
    "\u2069=1 They talked secretly",
    " \u200b \u202e\u2066 =1 They talked secretly",  # mixed
    "\uff1d1+1 They talked secretly",  # full-width =
    "\uff0b1 They talked secretly",  # full-width +
    "\uff0d1 They talked secretly",  # full-width -
    "\uff20A1 They talked secretly",  # full-width @
    "\ufe66 1 They talked secretly",  # small =
    "\ufe62 1 They talked secretly",  # small +
    "\ufe63 1 They talked secretly",  # small -
    "\ufe6b A1 They talked secretly",  # small @
    "\u2212 1 They talked secretly",  # minus sign
    " \u200b\uff1d1 They talked secretly",  # disguises combined
]
ORDINARY_ANSWERS = [
    "They talked secretly = in private",
    "2+2 They talked secretly",
    "\u200bThey talked secretly",
    "\uff34hey talked secretly",  # full-width T is a letter, not a sign
    "email@example They talked secretly",
]


@pytest.mark.parametrize("answer", DISGUISED_FORMULAS)
def test_formula_starters_are_neutralised_however_disguised(answer: str) -> None:
    assert export_service._cell(answer) == "'" + answer


@pytest.mark.parametrize("answer", ORDINARY_ANSWERS)
def test_ordinary_text_is_left_alone(answer: str) -> None:
    assert export_service._cell(answer) == answer


def test_the_export_neutralises_every_disguise(lms: TestClient, instructor: TestClient) -> None:
    answers = DISGUISED_FORMULAS + ORDINARY_ANSWERS
    items = [
        {"question_id": "backchannel-q1", "learner_id": f"learner-{n}", "answer": answer}
        for n, answer in enumerate(answers)
    ]
    created = lms.post("/v1/submissions/batch", json={"items": items}).json()
    assert created["created"] == len(answers)
    stored = {
        item["submission"]["learner_id"]: item["submission"]["answer"] for item in created["items"]
    }
    neutralised = {f"learner-{n}" for n in range(len(DISGUISED_FORMULAS))}
    expected = {
        learner: ("'" + answer if learner in neutralised else answer)
        for learner, answer in stored.items()
    }
    assert len(expected) == len(answers)
    assert exported_answers(instructor) == expected


BAD_DATES = [
    ("2026-01-01T00:00:00", "Input should have timezone info"),  # naive
    ("2026-01-01", "Input should have timezone info"),  # a date is midnight, naive
    ("10000-01-01T00:00:00Z", None),  # year 10000
    ("0000-01-01T00:00:00Z", None),  # year 0
    ("0001-01-01T00:00:00+01:00", "outside the years 1 to 9999 in UTC"),
    ("9999-12-31T23:30:00-01:00", "outside the years 1 to 9999 in UTC"),
    ("99999999999999999999", None),  # a timestamp beyond any datetime
]


@pytest.mark.parametrize(("value", "message"), BAD_DATES)
def test_unusable_dates_are_422_naming_the_field(
    lms: TestClient, instructor: TestClient, value: str, message: str | None
) -> None:
    submit(lms, "They talked secretly.")
    for path, field in itertools.product(
        ["/v1/submissions", EXPORT], ["created_after", "created_before"]
    ):
        response = instructor.get(path, params={field: value})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "validation_error"
        assert [error["field"] for error in body["errors"]] == [field]
        assert body["detail"].startswith(f"{field}: ")
        if message is not None:
            assert message in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("created_after", "created_before", "count"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", 1),
        ("0001-01-01T00:00:00-01:00", None, 1),
        (None, "9999-12-31T22:00:00-01:00", 1),
        ("9999-12-31T23:59:59Z", None, 0),
        (None, "0001-01-01T00:00:00Z", 0),
        ("2000-01-01T00:00:00+14:00", "9999-01-01T00:00:00-12:00", 1),
    ],
)
def test_extreme_but_valid_dates_work_on_the_database(
    lms: TestClient,
    instructor: TestClient,
    created_after: str | None,
    created_before: str | None,
    count: int,
) -> None:
    submit(lms, "They talked secretly.")
    params = {
        k: v
        for k, v in {"created_after": created_after, "created_before": created_before}.items()
        if v is not None
    }
    listed = instructor.get("/v1/submissions", params=params)
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["items"]) == count
    exported = instructor.get(EXPORT, params=params)
    assert exported.status_code == 200, exported.text
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == count
