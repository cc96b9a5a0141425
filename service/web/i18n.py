"""One gettext catalogue for every user-visible string of the pages.

Templates mark strings with ``{% trans %}`` / ``_()``; ``make messages`` extracts them into
``service/web/locale/messages.pot`` (Babel). A school adds a language by adding
``locale/<lang>/LC_MESSAGES/messages.po``: it is read at start-up (no compile step), and a
page uses it when its question is in that language (student pages) or the browser asks for
it (the console). Numbers and dates are formatted for the same locale.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en"
# Shown for a missing number or date (an en dash).
NONE = "\u2013"

_current: ContextVar[tuple[str, NullTranslations]] = ContextVar("page_locale")


@lru_cache(maxsize=1)
def catalogues() -> dict[str, NullTranslations]:
    """Every shipped catalogue, by locale, read from its ``.po`` file once."""
    found: dict[str, NullTranslations] = {}
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        found[po.parent.parent.name] = Translations(buffer)
    found.setdefault(DEFAULT_LOCALE, NullTranslations())
    return found


def available_locales() -> list[str]:
    return sorted(catalogues())


def best_locale(wanted: Iterable[str | None]) -> str:
    """The first wanted locale we have a catalogue for (``fr-CA`` falls back to ``fr``)."""
    have = catalogues()
    for tag in wanted:
        if not tag:
            continue
        normalised = tag.replace("-", "_")
        for candidate in (normalised, normalised.split("_")[0]):
            if candidate in have:
                return candidate
    return DEFAULT_LOCALE


def from_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, most preferred first."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def activate(locale: str) -> None:
    """Use ``locale`` for the rest of this request's rendering."""
    _current.set((locale, catalogues().get(locale, catalogues()[DEFAULT_LOCALE])))


def _active() -> tuple[str, NullTranslations]:
    try:
        return _current.get()
    except LookupError:
        return DEFAULT_LOCALE, catalogues()[DEFAULT_LOCALE]


def current_locale() -> str:
    return _active()[0]


def gettext(message: str) -> str:
    return _active()[1].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active()[1].ngettext(singular, plural, n)


# The name Babel's extractor looks for in Python code.
_ = gettext


def _babel_locale() -> Locale:
    try:
        return Locale.parse(current_locale())
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def number(value: float | int | None, digits: int = 2) -> str:
    """A number as the current locale writes it, with at most ``digits`` decimals."""
    if value is None:
        return NONE
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel_locale())


def percent(value: float | None) -> str:
    if value is None:
        return NONE
    return format_percent(value, locale=_babel_locale())


def when(value: datetime | None) -> str:
    if value is None:
        return NONE
    return format_datetime(value, format="medium", tzinfo=UTC, locale=_babel_locale()) + " UTC"
