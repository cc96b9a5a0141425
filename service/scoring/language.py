"""Which language a text is written in: py3langid's naive Bayes model, shipped in its wheel.

``identify(text)`` gives the most probable language (ISO 639-1 code) and its posterior
probability; ``primary_language(texts)`` the language of a question's own material (prompt
and reference answers). The model is loaded once per process, on first use (1-2 seconds and
about 100 MB), never at import: a process pays for it when it compiles its first question,
not when it starts.

The model knows 140 labels, many of them close relatives of a larger language (Walloon,
Occitan, Luxembourgish, Nigerian Pidgin, Latin...). On a few English words those siblings
collect probability mass that means nothing for a school answer, so classification is
restricted to ``LANGUAGES``: the languages students in schools plausibly write in. The set
is the 24 official languages of the European Union, the regional languages schools teach in
(Catalan, Basque, Galician, Welsh, Irish), the national languages of Europe's other states
and neighbours (Norwegian, Icelandic, Albanian, Serbian, Bosnian, Macedonian, Ukrainian,
Belarusian, Georgian, Armenian, Azerbaijani, Kazakh, Turkish), and the world's most spoken
languages (the UN's six plus Hindi, Urdu, Bengali, Persian, Indonesian, Malay, Vietnamese,
Thai, Korean, Japanese, Swahili, Tagalog, Tamil, Hebrew, Afrikaans): 59 in all. It is not
fitted to any dataset; the point is breadth without dialects.
``zxx`` ("no linguistic content") is kept as well: it is where code and formulas go.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from service.scoring.text import STOP_WORDS, tokenize

# No language at all (py3langid's label for code, numbers and symbols).
NO_LANGUAGE = "zxx"
# What a question is taken to be written in when its own text cannot tell.
DEFAULT_LANGUAGE = "en"

LANGUAGES: frozenset[str] = frozenset(
    """
    bg cs da de el en es et fi fr ga hr hu it lt lv mt nl pl pt ro sk sl sv
    ca eu gl cy no is
    ar zh ru hi ur bn fa tr id ms vi th ko ja sw tl ta he uk af sq sr bs mk be ka hy az kk
    """.split()
) | {NO_LANGUAGE}

# A question's material names its language only when the identifier is this sure of it; a
# short prompt and a terse reference ("What is a stack?" / "A LIFO list.") can look like
# anything, and taking a wrong language for the question would flag every honest answer,
# so below this the default language is assumed.
QUESTION_LANGUAGE_MIN_PROBABILITY = 0.9

_lock = threading.Lock()
_identifier: Any = None


def _get_identifier() -> Any:
    """The restricted identifier, built once (double-checked: grading threads share it)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                # Imported here: loading the package is cheap, but keeping the import with
                # the model load keeps the whole cost at first use.
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(sorted(LANGUAGES))
                _identifier = identifier
    return _identifier


def identify(text: str) -> tuple[str, float]:
    """The most probable language of ``text`` and its posterior probability (0..1, the
    probabilities of all ``LANGUAGES`` sum to 1). Text without letters gives
    ``NO_LANGUAGE`` or a near-uniform, low probability: callers must read the number."""
    language, probability = _get_identifier().classify(text)
    return str(language), float(probability)


def ranked(text: str) -> list[tuple[str, float]]:
    """Every language of ``LANGUAGES`` with its posterior probability for ``text``, the
    most probable first (the probabilities sum to 1)."""
    return [(str(language), float(p)) for language, p in _get_identifier().rank(text)]


def primary_language(texts: Iterable[str], default: str = DEFAULT_LANGUAGE) -> str:
    """The language a question is written in, from its prompt and reference answers read
    together (more text, surer answer); ``default`` unless the identifier is sure."""
    joined = "\n".join(text for text in texts if text.strip())
    if not joined:
        return default
    language, probability = identify(joined)
    if language == NO_LANGUAGE or probability < QUESTION_LANGUAGE_MIN_PROBABILITY:
        return default
    return language


@dataclass(frozen=True, slots=True)
class QuestionLanguage:
    """What an answer in the question's language is expected to look like.

    ``code``: the question's language. ``words``: words whose presence in an answer shows
    that language: for English the Snowball function-word list (40-50% of any English
    sentence); for another language, for which the project has no curated list, every word
    of the question's own text (its function words are among them). ``latin_script``: the
    question is written in Latin letters.
    """

    code: str
    words: frozenset[str]
    latin_script: bool

    @property
    def identifiable(self) -> bool:
        """The identifier knows this language: it can tell an answer is in another one."""
        return self.code in LANGUAGES

    @classmethod
    def of(cls, texts: Sequence[str], language: str | None = None) -> QuestionLanguage:
        """The language of ``texts`` (a question's prompt and references): ``language``
        (an ISO 639 code or a BCP 47 tag, "fr-CA" meaning "fr") when given, else
        ``primary_language(texts)``. A language outside ``LANGUAGES`` is kept (the
        identifier cannot judge answers to it); ``ValueError`` for what is no language."""
        code = primary_language(texts) if language is None else _primary_subtag(language)
        letters = [char for text in texts for char in text if char.isalpha()]
        latin = not letters or non_latin_share(letters) < NON_LATIN_MIN_LETTER_SHARE
        if code == DEFAULT_LANGUAGE:
            return cls(code, STOP_WORDS, latin)
        words = frozenset(token.text for text in texts for token in tokenize(text))
        return cls(code, words, latin)


ENGLISH = QuestionLanguage(DEFAULT_LANGUAGE, STOP_WORDS, latin_script=True)
_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})(?:-[a-z0-9]{2,8}){0,3}")


def _primary_subtag(tag: str) -> str:
    """``fr`` of ``fr-CA``; ``ValueError`` unless ``tag`` is a language tag of a language."""
    match = _LANGUAGE_TAG.fullmatch(tag.strip().lower())
    if match is None or match.group(1) == NO_LANGUAGE:
        raise ValueError(f"unknown language {tag!r}: expected a code such as 'en' or 'fr-CA'")
    return match.group(1)


# A text is in a non-Latin script when most of its letters are: a Latin-script text quotes a
# foreign word now and then, never half of its letters.
NON_LATIN_MIN_LETTER_SHARE = 0.5


def non_latin_share(letters: Sequence[str]) -> float:
    """The share of ``letters`` (single alphabetic characters) that are not Latin."""
    if not letters:
        return 0.0
    return sum(not is_latin(char) for char in letters) / len(letters)


@lru_cache(maxsize=4096)
def is_latin(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")
