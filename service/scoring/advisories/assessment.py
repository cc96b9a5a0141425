"""``assess``: every detector on one answer, in a fixed order; ``apply_caps``: the score cap."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from service.scoring.advisories.base import Advisory, Answer, AnswerContext
from service.scoring.advisories.copying import COPIES_QUESTION, copies_question
from service.scoring.advisories.echo import ECHOES_FEEDBACK, NO_ECHO, Echo
from service.scoring.advisories.gibberish import GIBBERISH, is_gibberish
from service.scoring.advisories.length import TOO_LONG, TOO_SHORT, is_too_long, is_too_short
from service.scoring.advisories.off_topic import OFF_TOPIC, is_off_topic
from service.scoring.advisories.other_language import OTHER_LANGUAGE, is_other_language
from service.scoring.advisories.repetition import REPETITION, is_repetitive
from service.scoring.advisories.stuffing import KEYWORD_STUFFING, is_keyword_list
from service.scoring.text import Token

ADVISORY_CODES: tuple[str, ...] = tuple(
    advisory.code
    for advisory in (
        OTHER_LANGUAGE,
        ECHOES_FEEDBACK,
        GIBBERISH,
        REPETITION,
        TOO_SHORT,
        COPIES_QUESTION,
        KEYWORD_STUFFING,
        OFF_TOPIC,
        TOO_LONG,
    )
)

# Every message an advisory can show a student (feedback text a student could copy back).
ADVISORY_MESSAGES: tuple[str, ...] = (
    OTHER_LANGUAGE.message,
    ECHOES_FEEDBACK.message,
    GIBBERISH.message,
    REPETITION.message,
    TOO_SHORT.message,
    COPIES_QUESTION.message,
    KEYWORD_STUFFING.message,
    OFF_TOPIC.message,
    TOO_LONG.message,
)


def assess(
    answer: str,
    context: AnswerContext,
    *,
    similarity: float,
    coverage: float,
    tokens: Sequence[Token] | None = None,
    echo: Echo = NO_ECHO,
) -> tuple[Advisory, ...]:
    """Advisories for ``answer``, in ``ADVISORY_CODES`` order; empty when nothing is wrong.

    ``similarity`` is the engine's 0..1 TF-IDF similarity of the answer to the nearest
    reference (raw cosine or the engine's square-root scale: only its low end is used) and
    ``coverage`` the 0..1 weighted share of rubric criteria met. An answer that is not in
    the question's language gets ``other_language`` alone, since every other detector
    compares the answer's words with the question's.
    ``off_topic`` is left out when a more specific advisory already explains the answer.
    ``tokens``: ``tokenize(answer)``, when the caller has it already (saves tokenising twice).
    ``echo``: what ``FeedbackEcho.find`` found in the answer as submitted; ``answer`` itself
    is then the text that is scored, with the copied ranges already stripped.
    """
    if not (0.0 <= similarity <= 1.0 and 0.0 <= coverage <= 1.0):
        raise ValueError(f"similarity and coverage must be in 0..1, got {similarity}, {coverage}")
    parsed = Answer.of(answer, tokens)
    echoed = (ECHOES_FEEDBACK,) if echo.flagged else ()
    if is_other_language(parsed, context.language):
        return (OTHER_LANGUAGE, *echoed)
    found: list[Advisory] = [*echoed]
    if is_gibberish(parsed):
        found.append(GIBBERISH)
    if is_repetitive(parsed):
        found.append(REPETITION)
    # A restated question has no words of its own either: say the more specific thing.
    if copies_question(parsed, context):
        found.append(COPIES_QUESTION)
    elif is_too_short(parsed, context):
        found.append(TOO_SHORT)
    if TOO_SHORT not in found and is_keyword_list(parsed, context):
        found.append(KEYWORD_STUFFING)
    if not found and is_off_topic(parsed, context, similarity=similarity, coverage=coverage):
        found.append(OFF_TOPIC)
    if is_too_long(parsed, context):
        found.append(TOO_LONG)
    return tuple(found)


def apply_caps(score: float, advisories: Iterable[Advisory]) -> float:
    """``score`` lowered to the smallest cap among ``advisories`` (unchanged if none)."""
    return min([score, *(a.cap for a in advisories if a.cap is not None)])
