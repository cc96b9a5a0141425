"""Start-up errors a person can act on: one or two lines naming the setting, its value
(secrets masked) and the fix, instead of a traceback (``--debug`` shows that too)."""

from __future__ import annotations

import re

from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Exit code of every start-up error (argparse uses 2 for bad arguments; 1 is "crashed").
STARTUP_EXIT_CODE = 3
MASK = "****"
# Settings whose values are never printed, whatever their type.
_SECRET_WORDS = ("key", "secret", "token", "passphrase", "password")
DATABASE_URL_EXAMPLES = (
    "sqlite:////srv/grader/data/grader.db or postgresql+psycopg://USER:PASSWORD@HOST:5432/DBNAME"
)


class StartupError(Exception):
    """Raised by the command line's checks; ``lines`` are printed as they are."""

    def __init__(self, *lines: str, exit_code: int = STARTUP_EXIT_CODE) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.exit_code = exit_code


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (as SQLAlchemy renders it)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # Not parseable: still never print what could be a password after "user:".
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def env_name(field: str) -> str:
    return f"GRADER_{field.upper()}"


def _shown(field: str, value: object) -> str:
    if isinstance(value, SecretStr) or any(word in field for word in _SECRET_WORDS):
        return MASK
    if field == "database_url" and isinstance(value, str):
        return repr(mask_url(value))
    return repr(value)


def invalid_settings(exc: ValidationError) -> StartupError:
    """Each invalid GRADER_* setting on a line of its own, with what would be accepted."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "settings"
        value = error.get("input")
        lines.append(
            f"invalid setting {env_name(field)}={_shown(field, value)}: {error['msg']}. "
            f"Fix: set {env_name(field)} to a valid value or unset it for the default."
        )
    return StartupError(*lines)
