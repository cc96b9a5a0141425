"""repetition: the same sentence or words pasted again and again."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence

from service.scoring.advisories.base import Advisory, Answer, share, split_tokens
from service.scoring.text import Token, normalise, tokenize

REPETITION = Advisory(
    "repetition",
    "Your answer repeats the same words or sentences several times. Repeating a point does "
    "not earn extra marks: make each point once, then add new ones.",
    cap=None,
    needs_review=True,
)

# repetition: an honest writer may paste a sentence twice by mistake, never three times or
# two sentences twice each, hence two extra copies. Outside set names ("the Cuban Missile
# Crisis") word triples do not recur in prose: even a long answer repeats under 5% of them,
# so 30% repeated triples means about a third of the text is copied from itself (a whole
# answer pasted twice counts; one sentence doubled in a paragraph does not). zlib finds
# copies at any scale: prose of 200+ characters compresses to 45-65% of its size, text
# that is mostly copies of itself to well under a third.
REPETITION_MIN_EXTRA_SENTENCES = 2
REPETITION_MIN_SENTENCE_WORDS = 3
REPETITION_MIN_WORDS = 4
REPETITION_MIN_TRIGRAM_SHARE = 0.3
REPETITION_MIN_CHARS_FOR_COMPRESSION = 200
REPETITION_MAX_COMPRESSION_RATIO = 0.3

_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def is_repetitive(answer: Answer) -> bool:
    """A sentence pasted again and again, word triples recurring, or text that zlib can
    shrink far below what prose allows."""
    if _extra_sentence_copies(answer.text, answer.tokens) >= REPETITION_MIN_EXTRA_SENTENCES:
        return True
    words = [token.text for token in answer.tokens]
    if len(words) >= REPETITION_MIN_WORDS:
        trigrams = list(zip(words, words[1:], words[2:], strict=False))
        repeated = len(trigrams) - len(set(trigrams))
        if share(repeated, len(trigrams)) >= REPETITION_MIN_TRIGRAM_SHARE:
            return True
    raw = " ".join(normalise(answer.text).split()).encode("utf-8")
    if len(raw) < REPETITION_MIN_CHARS_FOR_COMPRESSION:
        return False
    return len(zlib.compress(raw, 9)) / len(raw) < REPETITION_MAX_COMPRESSION_RATIO


def _extra_sentence_copies(
    text: str, tokens: Sequence[Token] | None = None, words: Sequence[str] | None = None
) -> int:
    """How many sentences (of a few words or more) repeat an earlier one word for word.

    ``tokens``: ``tokenize(text)``, split by sentence instead of tokenising each sentence;
    ``words``: their texts, if known.
    """
    if tokens is None:
        tokens = tokenize(text)
    if words is None:
        words = [t.text for t in tokens]
    counts = Counter(
        tuple(words[start:end])
        for start, end in split_tokens(text, tokens, _SENTENCE_BREAK_RE)
        if end - start >= REPETITION_MIN_SENTENCE_WORDS
    )
    return sum(count - 1 for count in counts.values())
