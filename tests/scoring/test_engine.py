"""Behaviour of the pure engine on the three seed rubrics and on small hand-made ones."""

from __future__ import annotations

import math

import pytest

from service.domain.rubrics.service import load_rubric_file, to_spec
from service.scoring import CriterionSpec, Grader, RubricError, RubricSpec
from service.scoring.engine import round_to_step
from tests.conftest import RUBRICS_DIR, SEED_QUESTION_IDS


def seed_grader(question_id: str) -> Grader:
    return Grader(to_spec(load_rubric_file(RUBRICS_DIR / f"{question_id}.yaml")))


@pytest.fixture(scope="module")
def graders() -> dict[str, Grader]:
    return {question_id: seed_grader(question_id) for question_id in SEED_QUESTION_IDS}


# Faithful paraphrases in a student's own words, and answers that cover only one idea.
PARAPHRASES = {
    "backchannel-q1": (
        "Because Kennedy and Khrushchev could send private messages to each other through "
        "secret channels, they were able to bargain quietly without the public watching. "
        "That let each leader explain where he stood and work out what the other side really "
        "intended, so their talks were more productive, and it calmed tensions and helped "
        "avoid a military clash."
    ),
    "backchannel-q2": (
        "Backchannels worked well in the crisis. Messages moved quickly between Washington and "
        "Moscow and there were fewer misunderstandings between the two superpowers. Through "
        "unofficial channels the leaders could pass on sensitive information and consider "
        "different options without pressure from the public, which produced a settlement that "
        "official diplomacy alone might never have reached. This shows backchannels are a "
        "valuable tool for managing crises."
    ),
    "backchannel-q3": (
        "The secret talks built trust between Washington and Moscow and showed that informal "
        "dialogue can end a crisis peacefully. Afterwards the two sides set up more structured "
        "links such as the Hotline Agreement, a direct line between the leaders. This lowered "
        "the danger of nuclear escalation in later conflicts and prepared the way for arms "
        "control talks, turning adversaries into more cooperative partners."
    ),
}
ONE_IDEA = {
    "backchannel-q1": "Kennedy and Khrushchev sent each other secret messages.",
    "backchannel-q2": "Backchannels let information be exchanged quickly.",
    "backchannel-q3": "After the crisis they set up the Hotline Agreement.",
}
OFF_TOPIC = (
    "Photosynthesis is the process by which green plants use sunlight, water and carbon "
    "dioxide to make glucose and release oxygen. It happens in the chloroplasts, where "
    "chlorophyll absorbs light energy."
)


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_reference_answers_score_full_marks(graders: dict[str, Grader], question_id: str) -> None:
    grader = graders[question_id]
    for reference in grader.rubric.reference_answers:
        result = grader.grade(reference)
        assert result.points == grader.rubric.max_points
        assert result.score == 1.0
        assert all(criterion.met for criterion in result.criteria)


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_paraphrase_scores_clearly_above_one_idea_answer(
    graders: dict[str, Grader], question_id: str
) -> None:
    grader = graders[question_id]
    paraphrase = grader.grade(PARAPHRASES[question_id])
    one_idea = grader.grade(ONE_IDEA[question_id])
    assert paraphrase.score >= 0.7
    assert one_idea.score <= 0.45
    assert paraphrase.score - one_idea.score >= 0.35


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_off_topic_answer_scores_near_zero(graders: dict[str, Grader], question_id: str) -> None:
    result = graders[question_id].grade(OFF_TOPIC)
    assert result.score <= 0.1
    assert not any(criterion.met for criterion in result.criteria)


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_casing_does_not_change_the_score(graders: dict[str, Grader], question_id: str) -> None:
    grader = graders[question_id]
    text = PARAPHRASES[question_id]
    assert (
        grader.grade(text.upper()).raw == grader.grade(text.lower()).raw == grader.grade(text).raw
    )


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_sentence_order_changes_the_score_little(
    graders: dict[str, Grader], question_id: str
) -> None:
    grader = graders[question_id]
    sentences = [s.strip() for s in PARAPHRASES[question_id].split(". ") if s.strip()]
    reordered = ". ".join(reversed(sentences))
    assert abs(grader.grade(reordered).raw - grader.grade(PARAPHRASES[question_id]).raw) <= 0.1


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_repeating_the_question_scores_low(graders: dict[str, Grader], question_id: str) -> None:
    grader = graders[question_id]
    assert grader.grade(grader.rubric.prompt).score <= 0.25


@pytest.mark.parametrize("answer", ["", "   ", "!!! ???", "the of and to", "zzqx vvbn"])
def test_empty_or_unknown_answer_scores_zero(graders: dict[str, Grader], answer: str) -> None:
    result = graders["backchannel-q1"].grade(answer)
    assert result.points == 0
    assert result.similarity == 0
    assert not math.isnan(result.raw)


def test_grading_is_deterministic(graders: dict[str, Grader]) -> None:
    text = PARAPHRASES["backchannel-q2"]
    assert graders["backchannel-q2"].grade(text) == seed_grader("backchannel-q2").grade(text)


def small_rubric(**overrides: object) -> RubricSpec:
    values: dict[str, object] = {
        "prompt": "How did the leaders talk during the crisis?",
        "max_points": 10.0,
        "score_step": 0.5,
        "reference_answers": ("They negotiated secretly and avoided a nuclear war.",),
        "criteria": (
            CriterionSpec("secret", "Talks were secret", 2.0, ("negotiate secretly",), "yes", "no"),
            CriterionSpec("war", "War was avoided", 1.0, ("avoid war",), "yes", "no"),
        ),
        "keyword_weight": 0.7,
        "similarity_weight": 0.3,
    }
    values.update(overrides)
    return RubricSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer", ["They negotiated in secret.", "Negotiating secretly", "The negotiation was secret"]
)
def test_inflections_match_the_same_stems(answer: str) -> None:
    result = Grader(small_rubric()).grade(answer)
    assert result.criteria[0].met
    assert result.criteria[0].matched_phrasing == "negotiate secretly"


def test_phrase_words_must_be_in_order_and_close() -> None:
    grader = Grader(small_rubric())
    assert not grader.grade("Secretly, they negotiated.").criteria[0].met
    far = "They negotiated for days about missiles bases ships and blockades, all in secret."
    assert not grader.grade(far).criteria[0].met
    assert grader.grade("They negotiated quietly and in secret.").criteria[0].met


def test_coverage_is_weighted_by_criterion_weight() -> None:
    grader = Grader(small_rubric())
    assert grader.grade("They negotiated secretly.").keyword_coverage == pytest.approx(
        2 / 3, abs=1e-4
    )
    assert grader.grade("They avoided a war.").keyword_coverage == pytest.approx(1 / 3, abs=1e-4)


def test_spans_point_into_the_original_answer() -> None:
    # A full-width "T" (NFKC changes it) must not shift the offsets of later words.
    answer = "\uff34hey  NEGOTIATED\u2014very secretly\u2014and avoided war."
    result = Grader(small_rubric()).grade(answer)
    spans = result.criteria[0].spans
    assert [answer[s.start : s.end] for s in spans] == ["NEGOTIATED", "secretly"]
    assert result.criteria[0].matched_words == ("NEGOTIATED", "secretly")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"criteria": (CriterionSpec("x", "d", 1.0, ("the of",), "h", "m"),)},
            "criteria[0].phrasings[0]",
        ),
        (
            {"criteria": (CriterionSpec("x", "d", 1.0, ("photosynthesis",), "h", "m"),)},
            "criteria[0].phrasings",
        ),
        ({"keyword_weight": 0.5}, "weights"),
        ({"score_step": 0.3}, "score_step"),
        ({"reference_answers": ()}, "reference_answers"),
        ({"reference_answers": ("the of and",)}, "reference_answers"),
    ],
)
def test_unusable_rubrics_are_rejected_with_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(RubricError) as raised:
        Grader(small_rubric(**overrides))
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [(7.25, 0.5, 7.5), (7.24, 0.5, 7.0), (7.2499999999, 0.5, 7.5), (0.0, 0.5, 0.0), (3.3, 1, 3)],
)
def test_round_to_step_rounds_half_up(value: float, step: float, expected: float) -> None:
    assert round_to_step(value, step) == expected


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_thin_answers_score_low_without_any_flag(
    graders: dict[str, Grader], question_id: str
) -> None:
    """Three words about the topic are not gaming, just thin: the score alone is low."""
    result = graders[question_id].grade("Kennedy and Khrushchev talked.")
    assert result.score <= 0.3
