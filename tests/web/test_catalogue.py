"""Every user-visible string of the pages goes through the one gettext catalogue, so a
school can add a language without touching a template."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi.testclient import TestClient

from service.web import i18n

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "service/web/locale/messages.pot"
METHODS = [
    ("service/web/**.py", "python"),
    ("service/web/templates/**.html", "jinja2"),
]
OPTIONS = {
    "service/web/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}


def _extracted() -> set[str]:
    found: set[str] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT),
        METHODS,
        options_map=OPTIONS,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_the_template_catalogue_is_up_to_date() -> None:
    with POT.open("rb") as handle:
        stored = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    missing = _extracted() - stored
    assert not missing, f"run `make messages`: not in messages.pot: {sorted(missing)[:5]}"


@pytest.fixture
def pseudo_locale() -> Iterator[str]:
    """A locale 'xx' translating every message to ⟦message⟧."""
    with POT.open("rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale="en")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            catalog.add(message.id, tuple(f"⟦{part}⟧" for part in message.id))
        else:
            catalog.add(message.id, f"⟦{message.id}⟧")
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    catalogues = i18n.catalogues()
    catalogues["xx"] = Translations(buffer)
    try:
        yield "xx"
    finally:
        del catalogues["xx"]


def _texts(page: str) -> list[str]:
    body = re.split(r"<body[^>]*>", page, maxsplit=1)[1]
    body = re.sub(r"<script.*?</script>", " ", body, flags=re.S)
    texts = [html.unescape(t).strip() for t in re.split(r"<[^>]+>", body)]
    return [t for t in texts if t]


def test_landing_and_sign_in_pages_say_nothing_outside_the_catalogue(
    anon: TestClient, pseudo_locale: str
) -> None:
    for path in ("/", "/console/sign-in"):
        page = anon.get(path, headers={"accept-language": pseudo_locale}).text
        loose = [t for t in _texts(page) if not (t.startswith("⟦") and t.endswith("⟧"))]
        assert loose == [], loose
        assert 'lang="xx"' in page
