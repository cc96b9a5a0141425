"""Bounded work for every input: phrase matching in linear time (same matches as the plain
search), the documented rubric limits, derived criteria reported per answer, and scores that
are always finite and on the scale."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.rubrics.service import build_grader, parse_document
from service.scoring import CriterionSpec, GradedAnswer, Grader, RubricError, RubricSpec, limits
from service.scoring.keywords import MAX_AUTO_CRITERIA, find_phrasing
from service.scoring.text import Token
from tests.scoring.adversarial import (
    ADVERSARIAL_ANSWER,
    ADVERSARIAL_MATCH,
    ADVERSARIAL_MISS,
    ADVERSARIAL_PHRASING,
    distinct_words,
    rubric_at_every_limit,
)


def backtracking_find(
    tokens: Sequence[Token], stems: Sequence[str], *, max_gap: int = 2, negated: bool = False
) -> tuple[int, ...] | None:
    """The depth-first search ``find_phrasing`` replaced (exponential on repeated stems),
    kept as the definition of which match is "first"."""

    def extend(matched: list[int]) -> list[int] | None:
        if len(matched) == len(stems):
            return matched
        wanted = stems[len(matched)]
        last = matched[-1]
        for index in range(last + 1, min(len(tokens), last + max_gap + 2)):
            if tokens[index].stem == wanted:
                found = extend([*matched, index])
                if found is not None:
                    return found
        return None

    for start, token in enumerate(tokens):
        if token.stem == stems[0] and token.negated == negated:
            found = extend([start])
            if found is not None:
                return tuple(found)
    return None


def _tokens(words: Sequence[tuple[str, bool]]) -> list[Token]:
    return [Token(w, w, 2 * i, 2 * i + 1, False, negated) for i, (w, negated) in enumerate(words)]


@settings(max_examples=3000, deadline=None)
@given(
    words=st.lists(st.tuples(st.sampled_from("abc"), st.booleans()), max_size=14),
    stems=st.lists(st.sampled_from("abc"), min_size=1, max_size=6),
    max_gap=st.integers(0, 3),
    negated=st.booleans(),
)
def test_find_phrasing_equals_the_backtracking_search(
    words: list[tuple[str, bool]], stems: list[str], max_gap: int, negated: bool
) -> None:
    tokens = _tokens(words)
    assert find_phrasing(tokens, stems, max_gap=max_gap, negated=negated) == backtracking_find(
        tokens, stems, max_gap=max_gap, negated=negated
    )


def adversarial_rubric() -> RubricSpec:
    return RubricSpec(
        prompt="What happened?",
        max_points=10,
        score_step=0.5,
        reference_answers=(ADVERSARIAL_ANSWER,),
        criteria=(
            CriterionSpec(
                "repeated", "Repeats a word", 1.0, (ADVERSARIAL_PHRASING,), "Yes.", "No."
            ),
        ),
        keyword_weight=0.7,
        similarity_weight=0.3,
    )


def test_adversarial_phrasing_matches_in_milliseconds() -> None:
    grader = Grader(adversarial_rubric())
    started = time.perf_counter()
    hit = grader.grade(ADVERSARIAL_ANSWER)
    miss = grader.grade(ADVERSARIAL_MISS)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # the backtracking search took minutes
    (criterion,) = hit.criteria
    assert criterion.met
    assert [span.start for span in criterion.spans] == [7 * i for i in ADVERSARIAL_MATCH]
    assert not miss.criteria[0].met


@pytest.fixture(scope="module")
def limit_grader() -> tuple[Grader, str]:
    document, answer = rubric_at_every_limit(graded=False)
    return build_grader(parse_document(document, source="test")), answer


def test_rubric_at_every_limit_grades_a_longest_answer_quickly(
    limit_grader: tuple[Grader, str],
) -> None:
    grader, answer = limit_grader
    assert len(answer) == 10_000
    assert len(grader.criteria) == limits.MAX_CRITERIA
    started = time.perf_counter()
    result = grader.grade(answer)
    assert time.perf_counter() - started < 2.0  # 2,450 phrasings: the plain search, years
    assert not any(c.met for c in result.criteria)
    assert 0 <= result.points <= result.max_points


def small_rubric(**changes: object) -> RubricSpec:
    rubric = RubricSpec(
        prompt="Why did the talks help?",
        max_points=4,
        score_step=0.5,
        reference_answers=("Secret talks let both sides avoid war.",),
        criteria=(CriterionSpec("talks", "Secret talks", 1.0, ("secret talks",), "Yes.", "No."),),
        keyword_weight=0.7,
        similarity_weight=0.3,
    )
    return replace(rubric, **changes)  # type: ignore[arg-type]


def _criterion(**changes: object) -> CriterionSpec:
    return replace(small_rubric().criteria[0], **changes)  # type: ignore[arg-type]


OVER_THE_LIMITS = [
    ({"prompt": "x" * (limits.MAX_PROMPT_CHARS + 1)}, "prompt"),
    (
        {"reference_answers": ("Secret talks let both sides avoid war.",) * 21},
        "reference_answers",
    ),
    (
        {"reference_answers": ("Secret talks. " + "w" * limits.MAX_REFERENCE_CHARS,)},
        "reference_answers[0]",
    ),
    ({"background": ("b" * 1000,) * 50 + ("b",)}, "background"),
    ({"criteria": tuple(_criterion(id=f"c{i}") for i in range(51))}, "criteria"),
    ({"criteria": (_criterion(phrasings=("secret talks",) * 51),)}, "criteria[0].phrasings"),
    (
        {"criteria": (_criterion(phrasings=("secret talks", "the " * 19 + "secret talks")),)},
        "criteria[0].phrasings[1]",
    ),
    (
        {"criteria": (_criterion(phrasings=("secret talks", "secret" + "s" * 195)),)},
        "criteria[0].phrasings[1]",
    ),
    ({"criteria": (_criterion(description="d" * 2001),)}, "criteria[0].description"),
    ({"criteria": (_criterion(feedback_hit="f" * 2001),)}, "criteria[0].feedback.hit"),
    ({"criteria": (_criterion(feedback_miss="f" * 2001),)}, "criteria[0].feedback.miss"),
]


@pytest.mark.parametrize(("changes", "field"), OVER_THE_LIMITS)
def test_the_engine_refuses_a_rubric_over_a_limit_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(RubricError) as raised:
        Grader(small_rubric(**changes))
    assert raised.value.field == field
    assert "at most" in raised.value.problem


def test_the_engine_accepts_a_rubric_at_the_limits() -> None:
    phrasings = ("secret talks", "the " * 18 + "secret talks", "secret" + "s" * 194)
    assert [len(p) for p in phrasings[2:]] == [limits.MAX_PHRASING_CHARS]
    Grader(
        small_rubric(
            prompt="x" * limits.MAX_PROMPT_CHARS,
            reference_answers=("Secret talks let both sides avoid war.",) * 20,
            background=("b" * 999,) * 50,
            criteria=(
                _criterion(
                    phrasings=(*phrasings, *("secret talks",) * 47),
                    description="d" * 2000,
                    feedback_hit="f" * 2000,
                    feedback_miss="f" * 2000,
                ),
                *(_criterion(id=f"c{i}") for i in range(49)),
            ),
        )
    )


@pytest.mark.parametrize(
    ("graded", "field"),
    [
        ([GradedAnswer("an answer", 1.0)] * 5001, "graded_answers"),
        ([GradedAnswer("a" * 10_001, 1.0)], "graded_answers[0].answer"),
        ([GradedAnswer("a" * 10_000, 1.0)] * 101, "graded_answers"),
        ([GradedAnswer("an answer", 5.0)], "graded_answers[0].points"),
        ([GradedAnswer("an answer", math.nan)], "graded_answers[0].points"),
    ],
)
def test_the_engine_refuses_graded_answers_over_a_limit(
    graded: list[GradedAnswer], field: str
) -> None:
    with pytest.raises(RubricError) as raised:
        Grader(small_rubric(), graded=graded)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_points": math.inf}, "max_points"),
        ({"max_points": math.nan}, "max_points"),
        ({"score_step": 5e-324}, "score_step"),
        ({"criteria": (_criterion(weight=math.inf),)}, "criteria[0].weight"),
    ],
)
def test_non_finite_or_degenerate_scales_are_refused(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(RubricError) as raised:
        Grader(small_rubric(**changes))
    assert raised.value.field == field


def test_derived_criteria_report_the_most_informative_terms_and_count_all() -> None:
    words = distinct_words(30)
    # The first twenty words also fill the background, the last ten occur only in the
    # reference: those ten are the most informative, so they are reported, then the first
    # two of the common ones (equal weights: the earlier wins), in the reference's order.
    grader = Grader(
        small_rubric(
            criteria=(),
            reference_answers=(" ".join(words),),
            background=(" ".join(words[:20]),) * 3,
        )
    )
    assert len(grader.criteria) == 30
    result = grader.grade(" ".join(words[:25]))
    assert len(result.criteria) == MAX_AUTO_CRITERIA
    assert [c.id for c in result.criteria] == [f"term-{i}" for i in (1, 2, *range(21, 31))]
    assert [c.met for c in result.criteria] == [True] * 7 + [False] * 5
    assert result.summary == (
        "You scored 3 out of 4 and covered 25 of 30 key ideas. "
        "Read the feedback on the ideas you missed to see what to add."
    )
    weights = [c.spec.weight for c in grader.criteria]
    assert result.keyword_coverage == round(sum(weights[:25]) / sum(weights), 4)
