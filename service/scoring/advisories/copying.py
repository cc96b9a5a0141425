"""copies_question: an answer that gives the question back, verbatim or paraphrased."""

from __future__ import annotations

import math

from service.scoring.advisories.base import Advisory, Answer, AnswerContext, share
from service.scoring.advisories.length import TOO_SHORT_REFERENCE_FRACTION

COPIES_QUESTION = Advisory(
    "copies_question",
    "Your answer mostly repeats the question. Answer it in your own words and add the "
    "points the question asks for.",
    cap=0.2,
    needs_review=False,
)

# copies_question: an answer that restates half or more of the question's content words,
# adds fewer words of its own than the too_short limit would ask of a whole answer (at most
# four), and none of the words the reference answers add to the question, is the question
# given back, verbatim or paraphrased. Short correct answers reuse the question's words
# too ("the compiler differentiates overloaded functions by their signature") but add the
# reference's own word ("signature"), which keeps them out.
COPY_MIN_PROMPT_COVERAGE = 0.5
COPY_MIN_CONTENT_WORDS = 2
COPY_MAX_OWN_WORDS = 4
# When the references themselves add fewer content words than this to the question ("the
# switch affects the bulb if they are in the same path"), answering and restating the
# question look the same, so nothing is flagged.
COPY_MIN_REFERENCE_OWN_WORDS = 2


def copies_question(answer: Answer, context: AnswerContext) -> bool:
    """The answer restates much of the question and adds too little of its own."""
    restated = len(answer.stems & context.prompt_stems)
    own = answer.stems - context.prompt_stems
    needed = min(
        COPY_MAX_OWN_WORDS,
        max(1, math.ceil(TOO_SHORT_REFERENCE_FRACTION * context.shortest_reference_own_words)),
    )
    return (
        len(context.reference_own_stems) >= COPY_MIN_REFERENCE_OWN_WORDS
        and len(answer.stems) >= COPY_MIN_CONTENT_WORDS
        and len(own) < needed
        and not own & context.reference_own_stems
        and share(restated, len(context.prompt_stems)) >= COPY_MIN_PROMPT_COVERAGE
    )
