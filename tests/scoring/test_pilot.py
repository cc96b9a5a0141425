"""The pilot: which answer to grade next, and the agreement so far."""

from __future__ import annotations

import itertools
import math

import pytest

from service.scoring.pilot import (
    MAX_CANDIDATES,
    MIN_TO_CALIBRATE,
    Agreement,
    Candidate,
    agreement,
    next_to_grade,
)


def spread(n: int, *, groups: int | None = None) -> list[Candidate]:
    """``n`` candidates with machine scores spread over 0..1, confident in the middle."""
    return [
        Candidate(
            index=10 + i,
            machine=i / (n - 1),
            confidence=0.9,
            group=(i * groups // n) if groups else None,
        )
        for i in range(n)
    ]


def test_nothing_left_to_grade_gives_none() -> None:
    candidates = spread(3)
    assert next_to_grade([], {}) is None
    assert next_to_grade(candidates, {c.index: 0.5 for c in candidates}) is None


def test_never_proposes_a_graded_answer_and_is_deterministic() -> None:
    candidates = spread(30, groups=5)
    graded: dict[int, float] = {}
    order = []
    while (index := next_to_grade(candidates, graded, seed=3)) is not None:
        assert index not in graded
        assert next_to_grade(candidates, graded, seed=3) == index
        order.append(index)
        graded[index] = 0.5
    assert sorted(order) == [c.index for c in candidates]


def test_the_first_grades_cover_the_range_of_machine_scores() -> None:
    candidates = spread(41)
    graded: dict[int, float] = {}
    order = []
    for _ in range(4):
        index = next_to_grade(candidates, graded)
        assert index is not None
        order.append(next(c.machine for c in candidates if c.index == index))
        graded[index] = order[-1]
    # Four grades spread over the scale like a stratified sample, not four neighbours: the
    # median first, then the quartiles, then an eighth.
    assert abs(order[0] - 0.5) <= 0.05
    chosen = sorted(order)
    assert chosen[-1] - chosen[0] >= 0.5
    assert min(b - a for a, b in itertools.pairwise(chosen)) >= 0.1


def test_grades_follow_the_answers_not_the_scale() -> None:
    # Two thirds of the answers crowd near the top, the rest spread over the bottom half:
    # the first three grades are the answers at the quartiles of the machine scores (a
    # stratified sample of the answers, not of the scale), give or take the stratum's width.
    candidates = [Candidate(i, 0.85 + 0.0025 * i, 0.9, None) for i in range(20)]
    candidates += [Candidate(20 + i, 0.05 * i, 0.9, None) for i in range(10)]
    position = {c.index: p for p, c in enumerate(sorted(candidates, key=lambda c: c.machine))}
    graded: dict[int, float] = {}
    for _ in range(3):
        index = next_to_grade(candidates, graded)
        assert index is not None
        graded[index] = 0.5
    chosen = sorted(position[index] for index in graded)
    last = len(candidates) - 1
    for got, quartile in zip(chosen, (0.25, 0.5, 0.75), strict=True):
        assert abs(got - quartile * last) <= 2


def test_an_uncertain_answer_comes_before_a_confident_twin() -> None:
    candidates = [
        Candidate(0, 0.5, 0.95, None),
        Candidate(1, 0.5, 0.2, None),
        Candidate(2, 0.5, 0.95, None),
    ]
    assert next_to_grade(candidates, {}) == 1


def test_an_ungraded_group_comes_before_another_answer_of_a_graded_group() -> None:
    # Same machine scores and confidence: only the groups tell the answers apart.
    candidates = [Candidate(i, 0.4, 0.8, group) for i, group in enumerate([0, 0, 0, 1, 1])]
    first = next_to_grade(candidates, {})
    assert first is not None
    first_group = candidates[first].group
    second = next_to_grade(candidates, {first: 0.4})
    assert second is not None
    assert candidates[second].group != first_group


def test_grades_go_where_machine_and_teacher_disagree() -> None:
    # One stratum (equal machine scores), two kinds of answers told apart by a feature; the
    # teacher agreed with the machine on one kind and not on the other.
    candidates = [Candidate(i, 0.4, 0.8, None, (0.0 if i % 2 else 1.0,)) for i in range(20)]
    graded = {0: 1.0, 1: 0.4}  # 0: feature 1.0, the teacher gave full marks; 1: agreed
    index = next_to_grade(candidates, graded)
    assert index is not None
    assert candidates[index].features == (1.0,)


LIGHT = (
    "the plant uses light energy to make sugar",
    "plants make sugar using energy from light",
    "light gives the plant energy to make its sugar",
)
CIRCUIT = "the bulb lights because the battery is in a closed circuit"


def texts_alike_for_the_machine(texts: tuple[str, ...]) -> list[Candidate]:
    """Candidates the machine cannot tell apart (same score, confidence, no groups)."""
    return [
        Candidate(index=i, machine=0.5, confidence=0.5, group=None, text=text)
        for i, text in enumerate(texts)
    ]


def test_after_a_grade_the_next_goes_to_an_answer_unlike_it_in_text() -> None:
    # The machine sees four equal answers; only the texts tell that one is about something
    # else. A grade of answer 0 already covers its rewordings (graded neighbours are found
    # by text similarity), so the next grade goes to the unlike answer whatever the seed.
    candidates = texts_alike_for_the_machine((*LIGHT, CIRCUIT))
    for seed in range(10):
        assert next_to_grade(candidates, {0: 1.0}, seed=seed) == 3


def test_without_every_text_the_choice_ignores_texts() -> None:
    with_texts = [*spread(12, groups=4)]
    words = ("light energy", "sugar plant", "closed circuit", "battery bulb")
    texted = [
        Candidate(c.index, c.machine, c.confidence, c.group, c.features, words[i % 4])
        for i, c in enumerate(with_texts)
    ]
    one_missing = [*texted[:-1], with_texts[-1]]
    graded = {with_texts[0].index: 1.0, with_texts[5].index: 0.0}
    for seed in range(3):
        assert next_to_grade(one_missing, graded, seed=seed) == next_to_grade(
            with_texts, graded, seed=seed
        )
    assert next_to_grade(texted, graded) is not None


def test_too_many_candidates_are_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        next_to_grade([Candidate(i, 0.5, 0.5, None) for i in range(MAX_CANDIDATES + 1)], {})


def test_agreement_needs_a_few_grades_before_it_says_anything() -> None:
    result = agreement([0.2, 0.8], [0.0, 1.0])
    assert result == Agreement(2, "pearson", None, None, None, result.mean_abs_error, False)
    assert result.mean_abs_error == pytest.approx(0.2)
    assert agreement([], []).mean_abs_error is None


def test_pearson_agreement_with_an_interval_that_narrows_with_more_grades() -> None:
    machine = [0.1, 0.3, 0.35, 0.5, 0.6, 0.8, 0.9, 0.2]
    teacher = [0.0, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 0.25]
    few = agreement(machine, teacher)
    many = agreement(machine * 4, teacher * 4)
    assert few.metric == "pearson"
    assert few.value is not None
    assert few.low is not None
    assert few.high is not None
    assert few.low < few.value < few.high
    assert few.value == pytest.approx(many.value)
    assert many.low is not None
    assert many.high is not None
    assert many.high - many.low < few.high - few.low
    assert many.established
    assert few.mean_abs_error == pytest.approx(
        sum(abs(a - b) for a, b in zip(machine, teacher, strict=True)) / len(machine)
    )


def test_poor_agreement_is_not_established_however_many_grades() -> None:
    machine = [0.1, 0.9, 0.5, 0.2, 0.8, 0.4] * 5
    teacher = [0.9, 0.1, 0.5, 0.6, 0.3, 0.4] * 5
    result = agreement(machine, teacher)
    assert result.value is not None
    assert result.value < 0
    assert not result.established


def test_too_few_grades_are_never_established() -> None:
    values = [0.0, 0.5, 1.0, 0.25][: MIN_TO_CALIBRATE - 1]
    assert not agreement(values, values).established


def test_label_agreement_is_accuracy_with_a_wilson_interval() -> None:
    machine = [1.0, 1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    teacher = [1.0, 1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    result = agreement(machine, teacher, labels=True)
    assert result.metric == "accuracy"
    assert result.value == pytest.approx(0.8)
    assert result.low is not None
    assert result.high is not None
    assert 0.0 < result.low < 0.8 < result.high < 1.0
    # Wilson, not the normal approximation: asymmetric around 0.8.
    assert result.high - 0.8 < 0.8 - result.low


def test_constant_scores_have_no_correlation() -> None:
    result = agreement([0.5] * 6, [0.0, 1.0, 0.5, 0.5, 1.0, 0.0])
    assert result.value is None
    assert not result.established


def test_agreement_rejects_mismatched_or_odd_input() -> None:
    with pytest.raises(ValueError, match="same answers"):
        agreement([0.5], [0.5, 0.5])
    result = agreement([math.nan, 2.0, -1.0, 0.5], [0.0, 1.0, 0.0, 0.5])
    assert result.value is not None
    assert math.isfinite(result.value)
