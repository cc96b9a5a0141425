"""Echo of a question's feedback: found by shared word 4-grams, blanked out before scoring."""

from __future__ import annotations

from service.scoring import Grader
from service.scoring.advisories import ECHOES_FEEDBACK, FeedbackEcho
from service.scoring.feedback import DERIVED_MISSING_TEMPLATE
from service.scoring.text import tokenize
from tests.scoring.test_calibration import auto_rubric

HINT = "Think about the quality of the exchanges themselves, and why that mattered."
MATERIAL = ["The exchanges themselves were frank."]


def test_copied_runs_are_found_and_blanked_with_offsets_kept() -> None:
    echo = FeedbackEcho.build([HINT], MATERIAL)
    answer = "They talked for many days, in secret. Think about the quality of the exchanges, ok?"
    found = echo.find(tokenize(answer))
    assert [answer[start:end] for start, end in found.spans] == [
        "Think about the quality of the exchanges"
    ]
    # Seven copied words of fifteen: blanked, but too few to call the answer an echo.
    assert (found.words, found.total, found.flagged) == (7, 15, False)
    stripped = found.strip(answer)
    assert len(stripped) == len(answer)
    assert stripped == "They talked for many days, in secret. " + " " * 40 + ", ok?"


def test_shared_material_and_stop_word_runs_are_not_copies() -> None:
    echo = FeedbackEcho.build([HINT, "It needs to be shorter than that."], MATERIAL)
    # "the exchanges themselves were" is the question's own text; "it needs to be" is English.
    for answer in ("The exchanges themselves were frank.", "It needs to be negative."):
        assert echo.find(tokenize(answer)).spans == ()


def test_numbers_in_templates_match_any_number() -> None:
    echo = FeedbackEcho.build([DERIVED_MISSING_TEMPLATE.format(missing=0, total=0)], [])
    copied = DERIVED_MISSING_TEMPLATE.format(missing=3, total=12)
    found = echo.find(tokenize(copied))
    assert found.spans == ((0, len(copied) - 1),)
    assert found.flagged


def test_grader_gives_no_credit_for_its_own_feedback() -> None:
    grader = Grader(auto_rubric())
    answer = "The switch breaks the circuit."
    first = grader.grade(answer)
    shown = " ".join([first.summary, *(c.feedback for c in first.criteria)])
    pasted = grader.grade(f"{answer} {shown}")
    assert pasted.points == first.points
    assert ECHOES_FEEDBACK in pasted.advisories
    assert pasted.needs_review
    assert ECHOES_FEEDBACK not in first.advisories
