"""CSV export of submissions with their effective scores."""

from __future__ import annotations

import csv
import io
import unicodedata
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
# Spreadsheet programs skip (or users cannot see) these before a formula, so "  =cmd",
# "\u200b=cmd" or "\u202e=cmd" are formulas too: whitespace, zero-width characters and
# bidirectional format characters.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space/non-joiner/joiner, word joiner, BOM
    "\u200e\u200f"  # left-to-right / right-to-left marks
    "\u202a\u202b\u202c\u202d\u202e"  # bidi embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # bidi isolates
)
# Characters that are not in NFKC's mapping but that some programs still read as a sign.
_SIGN_LOOKALIKES = frozenset("\u2212")  # MINUS SIGN


def _starts_formula(text: str) -> bool:
    if text.startswith(_FORMULA_START):
        return True
    for char in text:
        if char in _INVISIBLE or char.isspace():
            continue
        # NFKC folds full-width and small forms (U+FF1D, U+FF0B, U+FF0D, U+FF20, U+FE66,
        # U+FE62, U+FE63, U+FE6B, superscripts) to their ASCII sign.
        return char in _SIGN_LOOKALIKES or unicodedata.normalize("NFKC", char).startswith(
            _FORMULA_START
        )
    return False


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if _starts_formula(text) else text


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
