"""Advisories: signs that an answer is gaming the grader or cannot be graded fairly.

Contract:

- ``AnswerContext.build(...)`` is called once per rubric (cache it next to the grader); it
  stems the question, reference answers, rubric phrasings and background text.
- ``assess(answer, context, similarity=..., coverage=...)`` is pure and deterministic: the
  same inputs always give the same tuple of advisories, in a fixed order (the order of
  ``ADVISORY_CODES``), each code at most once. An empty tuple means nothing unusual.
- ``apply_caps(score, advisories)`` lowers a normalised score (0..1) to the smallest cap.
  An advisory with ``needs_review`` asks for a teacher; the caller decides how to hold the
  score until then. ``other_language`` has no cap on purpose: such an answer is not wrong, it
  is unreadable to this grader, so it goes to a teacher instead of being marked down.

Every threshold is a named constant, justified by how English text behaves rather than
fitted to particular answers, and kept in the module of the detector that reads it
(``length``, ``copying``, ``stuffing``, ``off_topic``, ``gibberish``, ``repetition``,
``other_language``, ``echo``). The detectors prefer missing a gaming attempt to flagging an
honest student: a false flag takes marks from someone who did the work.
"""

from service.scoring.advisories.assessment import (
    ADVISORY_CODES,
    ADVISORY_MESSAGES,
    apply_caps,
    assess,
)
from service.scoring.advisories.base import Advisory, AnswerContext
from service.scoring.advisories.copying import COPIES_QUESTION
from service.scoring.advisories.echo import ECHOES_FEEDBACK, NO_ECHO, Echo, FeedbackEcho
from service.scoring.advisories.gibberish import GIBBERISH
from service.scoring.advisories.length import TOO_LONG, TOO_SHORT
from service.scoring.advisories.off_topic import OFF_TOPIC
from service.scoring.advisories.other_language import OTHER_LANGUAGE
from service.scoring.advisories.repetition import REPETITION
from service.scoring.advisories.stuffing import KEYWORD_STUFFING

__all__ = [
    "ADVISORY_CODES",
    "ADVISORY_MESSAGES",
    "COPIES_QUESTION",
    "ECHOES_FEEDBACK",
    "GIBBERISH",
    "KEYWORD_STUFFING",
    "NO_ECHO",
    "OFF_TOPIC",
    "OTHER_LANGUAGE",
    "REPETITION",
    "TOO_LONG",
    "TOO_SHORT",
    "Advisory",
    "AnswerContext",
    "Echo",
    "FeedbackEcho",
    "apply_caps",
    "assess",
]
