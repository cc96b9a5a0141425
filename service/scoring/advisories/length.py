"""too_short and too_long: answers far shorter or longer than the reference answers."""

from __future__ import annotations

import math

from service.scoring.advisories.base import Advisory, Answer, AnswerContext

TOO_SHORT = Advisory(
    "too_short",
    "Your answer is very short. Write a few sentences that explain your answer, not just a "
    "word or two.",
    cap=0.3,
    needs_review=False,
)
TOO_LONG = Advisory(
    "too_long",
    "Your answer is much longer than it needs to be. Extra length does not earn marks: keep "
    "to the points that answer the question. A teacher will check it.",
    cap=0.85,
    needs_review=True,
)

# too_short: distinct content words against the shortest reference answer's. An answer
# with under about a seventh of them cannot carry the reference's content; the limit never
# exceeds two (two content words can be a complete answer, "function signature", "closed
# path"), and an answer with no content word is always too short. Short answers that are
# merely thin ("Kennedy and Khrushchev talked") are left to the score itself, which is low.
# Relative, because model answers run from three content words ("the food contains sugar")
# to forty: an absolute floor of four flagged a third of the correct answers in public
# short-answer datasets, whose references are one short sentence.
TOO_SHORT_MAX_WORDS = 2
TOO_SHORT_REFERENCE_FRACTION = 0.15

# too_long: a reference answer already states every idea the rubric rewards, so an answer
# several times longer than the longest one is mostly text the rubric cannot reward. The
# absolute floor keeps rubrics with one-line references from flagging an ordinary paragraph.
TOO_LONG_REFERENCE_MULTIPLE = 4.0
TOO_LONG_MIN_WORDS = 200


def is_too_short(answer: Answer, context: AnswerContext) -> bool:
    """Too few distinct content words to carry the reference's content (distinct, so
    pasting one word many times does not help)."""
    return len(answer.stems) < _words_needed(context.shortest_reference_content_words)


def _words_needed(reference_words: int) -> int:
    needed = math.ceil(TOO_SHORT_REFERENCE_FRACTION * reference_words)
    return max(1, min(TOO_SHORT_MAX_WORDS, needed))


def is_too_long(answer: Answer, context: AnswerContext) -> bool:
    """Far longer than the fullest model answer, and long in absolute terms."""
    limit = max(TOO_LONG_MIN_WORDS, TOO_LONG_REFERENCE_MULTIPLE * context.longest_reference_words)
    return len(answer.tokens) > limit
