"""Text normalisation and tokenisation shared by keyword matching and TF-IDF.

Every token keeps its character offsets in the *original* answer, so that feedback can
point at the exact words a student wrote.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Letters and digits; hyphens split words ("de-escalate" -> "de", "escalate") so that
# hyphenated and spaced spellings match each other. Apostrophes stay inside a word so
# the stemmer can remove possessives ("Kennedy's" -> "kennedi").
_WORD_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# The Snowball project's English stop-word list (snowballstem.org/algorithms/english/stop.txt).
# Chosen over scikit-learn's list, which also drops content words such as "system",
# "fire", "call" and "bill" that can carry the meaning of a short answer.
STOP_WORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing would should could ought i'm you're he's she's it's we're they're i've
    you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll
    they'll isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't
    wouldn't shan't shouldn't can't cannot couldn't mustn't let's that's who's what's here's
    there's when's where's why's how's a an the and but if or because as until while of at
    by for with about against between into through during before after above below to from
    up down in out on off over under again further then once here there when where why how
    all any both each few more most other some such no nor not only own same so than too
    very
    """.split()
)


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its case-folded form, stem and span in the original string."""

    text: str
    stem: str
    start: int
    end: int
    is_stop: bool


_local = threading.local()


def _stemmer() -> snowballstemmer.stemmer:
    # PyStemmer's C stemmers are not thread-safe; FastAPI runs handlers in a thread pool.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = snowballstemmer.stemmer("english")
        _local.stemmer = stemmer
    return stemmer


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """Snowball English stem of one case-folded word (memoised: vocabularies are small)."""
    return str(_stemmer().stemWord(word))


def normalise(text: str) -> str:
    """NFKC, unified apostrophes and case folding: the form all matching happens in."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with offsets into ``text`` itself.

    Words are found on the original string and normalised one by one, so offsets stay
    exact even where NFKC changes the length of a character (ligatures, full-width forms).
    """
    tokens: list[Token] = []
    for match in _WORD_RE.finditer(text):
        start, end = match.span()
        for piece in _WORD_RE.findall(normalise(match.group())):
            tokens.append(Token(piece, stem(piece), start, end, piece in STOP_WORDS))
    return tokens


def content_tokens(text: str) -> list[Token]:
    """Tokens that carry meaning: stop words removed."""
    return [token for token in tokenize(text) if not token.is_stop]


def content_stems(text: str) -> list[str]:
    """Stems of the content words of ``text``, in order."""
    return [token.stem for token in content_tokens(text)]
