"""CSV export of submissions with their effective scores."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy.orm import Session, sessionmaker

from service.domain.access.principal import Scope
from service.domain.submissions.repository import SubmissionRepository
from service.domain.submissions.schemas import SubmissionFilter

COLUMNS = (
    "submission_id",
    "question_id",
    "learner_id",
    "created_at",
    "status",
    "points",
    "max_points",
    "machine_points",
    "overridden",
    "needs_review",
    "rubric_version",
    "scorer_version",
    "answer",
)
# A cell starting with one of these is run as a formula by spreadsheet programs; a leading
# apostrophe makes it text (OWASP's advice on CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def submission_rows(
    factory: sessionmaker[Session], filters: SubmissionFilter, *, scope: Scope
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    with factory() as session:
        for submission in SubmissionRepository(session, scope).iterate(filters):
            latest = submission.latest_result
            writer.writerow(
                _cell(value)
                for value in (
                    submission.id,
                    submission.question.slug,
                    submission.learner_id,
                    submission.created_at.isoformat(),
                    submission.status,
                    submission.points,
                    submission.max_points,
                    submission.machine_points,
                    submission.is_overridden,
                    submission.needs_review,
                    latest.rubric_version.version if latest else None,
                    latest.engine_version if latest else None,
                    submission.answer,
                )
            )
            yield flush()
