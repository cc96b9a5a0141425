"""Text checks shared by request schemas: what a learner or LMS may send us."""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = frozenset("\t\n\r")


def reject_control_characters(value: str) -> str:
    """Refuse control characters (other than tab and newlines) and lone surrogates.

    A NUL or a lone surrogate from a JSON escape would be stored badly or rejected by the
    database driver; refusing them here gives the client a clear 422 instead of a 500.
    """
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs":
            raise ValueError(
                f"contains a disallowed control character U+{ord(char):04X} at position {position}"
            )
    return value


def reject_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


# Question ids are slugs; checking the shape up front also keeps NUL bytes and other
# characters PostgreSQL cannot store out of queries.
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Printable text for ids and filters (no control characters, which PostgreSQL rejects).
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
