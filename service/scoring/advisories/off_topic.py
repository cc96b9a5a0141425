"""off_topic: an answer about another subject than the question's."""

from __future__ import annotations

from service.scoring.advisories.base import Advisory, Answer, AnswerContext, share

OFF_TOPIC = Advisory(
    "off_topic",
    "Your answer does not seem to be about this question. Check that you sent the right "
    "text, then answer the question that was asked.",
    cap=0.1,
    needs_review=True,
)

# off_topic: any answer about the question reuses some of its topic's words (names, places,
# the event, what happened), whatever its wording; text on another subject shares only a
# few general words ("use", "help", "process") with it. So the rule is: under a fifth of
# the answer's distinct content words occur in the question's own material. Two vetoes
# keep a related answer from being flagged whatever its wording: coverage above a quarter
# (one common word can meet one criterion by chance; an unrelated text does not meet two),
# and similarity of half or more (on the engine's square-root scale, a quarter of the
# reference's weighted vocabulary; on raw cosine, more still), far above chance overlap.
OFF_TOPIC_MAX_VOCABULARY_SHARE = 0.2
# One word more or less moves the share of a short answer by 10% or more; an essay on
# another subject is long, and a short unrelated answer already scores near zero.
OFF_TOPIC_MIN_CONTENT_WORDS = 10
OFF_TOPIC_MAX_COVERAGE = 0.25
OFF_TOPIC_MAX_SIMILARITY = 0.5
# The rule needs the topic's vocabulary: a question known only by a one-line prompt and a
# one-line reference (a dozen stems) cannot tell a different wording from another subject.
OFF_TOPIC_MIN_VOCABULARY = 40


def is_off_topic(
    answer: Answer, context: AnswerContext, *, similarity: float, coverage: float
) -> bool:
    """Hardly any of the question's own vocabulary, no real rubric idea, low similarity."""
    if similarity >= OFF_TOPIC_MAX_SIMILARITY or coverage >= OFF_TOPIC_MAX_COVERAGE:
        return False
    if len(answer.stems) < OFF_TOPIC_MIN_CONTENT_WORDS:
        return False
    if len(context.vocabulary) < OFF_TOPIC_MIN_VOCABULARY:
        return False
    known = len(answer.stems & context.vocabulary)
    return share(known, len(answer.stems)) < OFF_TOPIC_MAX_VOCABULARY_SHARE
