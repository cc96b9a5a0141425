"""Text normalisation and tokenisation shared by keyword matching and TF-IDF.

Every token keeps its character offsets in the *original* answer, so that feedback can
point at the exact words a student wrote.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import NamedTuple

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


class Token(NamedTuple):
    """One word of a text: its case-folded form, stem and span in the original string.

    Immutable like a frozen dataclass, but a tuple: an answer has dozens of tokens and a
    tuple is built four times faster, which matters at tens of microseconds per answer.
    """

    text: str
    stem: str
    start: int
    end: int
    is_stop: bool
    # A negation word ("not", "never", "didn't", "without", ...) occurs shortly before this
    # word in the same clause: "did not de-escalate" must not count as "de-escalate".
    negated: bool = False


# Words that negate what follows them in the same clause, and how far (in words) they reach.
NEGATORS: frozenset[str] = frozenset(
    "not no never cannot without nor neither none nothing nobody hardly barely".split()
)
NEGATION_REACH = 3
# Punctuation or a contrastive conjunction ends the reach of a negation.
_CLAUSE_BREAK_RE = re.compile(r"[.,;:!?()\[\]]")
_CLAUSE_BREAK_WORDS = frozenset({"but", "however", "although", "though", "yet"})


def is_negator(word: str) -> bool:
    """A case-folded word that negates what follows it ("not", "didn't", "without")."""
    return word in NEGATORS or word.endswith("n't")


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


# One word as the tokenizer sees it: (piece, stem, is stop word, is clause-break word,
# is negator) for every piece that normalisation leaves (usually one).
_Piece = tuple[str, str, bool, bool, bool]


@lru_cache(maxsize=100_000)
def _pieces(word: str) -> tuple[_Piece, ...]:
    """Everything ``tokenize`` derives from one matched word, memoised: normalising,
    re-splitting and stemming cost far more than the dictionary lookup."""
    return tuple(
        (piece, stem(piece), piece in STOP_WORDS, piece in _CLAUSE_BREAK_WORDS, is_negator(piece))
        for piece in _WORD_RE.findall(normalise(word))
    )


# The words of one whitespace-free chunk of text: (start, end, clause break before it,
# pieces) per word, offsets relative to the chunk; whether a clause break follows the
# last word (or, for a chunk without words, occurs anywhere in it); and, for a chunk with
# words but no negator or clause-break word, its tokens as (text, stem, start, end, is stop
# word), which outside a negation's reach are all there is to know (None otherwise).
_Plain = tuple[tuple[str, str, int, int, bool], ...]
_Chunk = tuple[tuple[tuple[int, int, bool, tuple[_Piece, ...]], ...], bool, _Plain | None]


@lru_cache(maxsize=100_000)
def _chunk(chunk: str) -> _Chunk:
    """Word matches of a chunk between whitespace, memoised. Words never contain whitespace
    and the word pattern looks neither behind nor ahead, so matching chunk by chunk finds
    exactly the words (and the gaps between them) that matching the whole text would."""
    words = []
    previous_end = 0
    for match in _WORD_RE.finditer(chunk):
        start, end = match.span()
        gap_break = _CLAUSE_BREAK_RE.search(chunk, previous_end, start) is not None
        words.append((start, end, gap_break, _pieces(match.group())))
        previous_end = end
    tail_break = _CLAUSE_BREAK_RE.search(chunk, previous_end) is not None
    pieces = [
        (piece, start, end, is_break or negator)
        for start, end, _, word_pieces in words
        for piece in word_pieces
        for is_break, negator in [piece[3:]]
    ]
    plain = None
    if pieces and not any(special for *_, special in pieces):
        plain = tuple((p[0], p[1], start, end, p[2]) for p, start, end, _ in pieces)
    return tuple(words), tail_break, plain


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with offsets into ``text`` itself.

    Words are found on the original string and normalised one by one, so offsets stay
    exact even where NFKC changes the length of a character (ligatures, full-width forms).
    """
    tokens: list[Token] = []
    append = tokens.append
    new = tuple.__new__
    find = text.find
    # Words since the last negation word in the current clause (None: no negation open).
    since_negation: int | None = None
    # A clause break occurred since the end of the previous word.
    pending_break = False
    position = 0
    for chunk in text.split():
        # Only whitespace lies between ``position`` and the chunk, so this finds the chunk.
        base = find(chunk, position)
        position = base + len(chunk)
        words, tail_break, plain = _chunk(chunk)
        if plain is not None and since_negation is None:
            # No negation open and none opened here: nothing is negated, and the clause
            # breaks only matter once a negation is open (the last word's tail is kept).
            for piece, stemmed, start, end, is_stop in plain:
                append(new(Token, (piece, stemmed, start + base, end + base, is_stop, False)))
            pending_break = tail_break
            continue
        for start, end, gap_break, pieces in words:
            if since_negation is not None and (pending_break or gap_break):
                since_negation = None
            pending_break = False
            start += base
            end += base
            for piece, stemmed, is_stop, is_break, negator in pieces:
                if is_break:
                    since_negation = None
                negated = since_negation is not None and since_negation < NEGATION_REACH
                append(new(Token, (piece, stemmed, start, end, is_stop, negated)))
                if negator:
                    since_negation = 0
                elif since_negation is not None:
                    since_negation += 1
        pending_break = pending_break or tail_break
    return tokens


def content_tokens(text: str) -> list[Token]:
    """Tokens that carry meaning: stop words removed."""
    return [token for token in tokenize(text) if not token.is_stop]


def content_stems(text: str) -> list[str]:
    """Stems of the content words of ``text``, in order."""
    return [token.stem for token in content_tokens(text)]
