"""Answer groups (service.scoring.grouping): which answers share a group, its numbering, its
representative, and the bounds."""

from __future__ import annotations

import numpy as np
import pytest

from service.scoring.grouping import MAX_ANSWERS, AnswerGrouping

# Answers to "Why do plants need light?": two spellings of one answer, a paraphrase of it,
# an answer about water and a non-answer.
ANSWERS = [
    "Plants use light energy to make sugar by photosynthesis.",
    "plants use light energy to make sugar by photosynthesis",
    "Plants use light to make their sugar, by photosynthesis.",
    "Roots take up water from the soil.",
    "I don't know",
]


def test_exact_duplicates_share_a_group_whatever_the_case_spacing_and_punctuation() -> None:
    texts = ["The cell  membrane!", "the cell membrane", "THE CELL MEMBRANE.", "Mitochondria"]
    # Even with the strictest settings (no clustering, near duplicates only when identical).
    grouping = AnswerGrouping(duplicate_similarity=1.0, distance_threshold=None).fit(texts)
    assert grouping.labels_.tolist() == [0, 0, 0, 1]
    assert grouping.n_groups_ == 2


def test_near_duplicates_share_a_group_without_clustering() -> None:
    texts = [
        "The membrane controls what enters and leaves the cell.",
        "The membrane controls what enters and leaves the cel.",  # a typo
        "Mitochondria release energy from glucose.",
    ]
    grouping = AnswerGrouping(duplicate_similarity=0.75, distance_threshold=None).fit(texts)
    assert grouping.labels_.tolist() == [0, 0, 1]
    # Stricter than their similarity: apart.
    strict = AnswerGrouping(duplicate_similarity=0.999, distance_threshold=None).fit(texts)
    assert strict.labels_.tolist() == [0, 1, 2]


def test_similar_answers_cluster_and_unrelated_ones_do_not() -> None:
    labels = AnswerGrouping().fit(ANSWERS).labels_
    assert labels[0] == labels[1] == labels[2]
    assert len({labels[0], labels[3], labels[4]}) == 3


def test_different_criteria_give_different_groups() -> None:
    texts = ANSWERS[:3]
    same = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert AnswerGrouping().fit(texts, same).labels_.tolist() == [0, 0, 0]
    # The paraphrase met the second criterion as well: it is graded apart from the others.
    different = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    assert AnswerGrouping().fit(texts, different).labels_.tolist() == [0, 0, 1]


def test_exact_duplicates_stay_together_even_if_their_criteria_differ() -> None:
    texts = ["Light makes sugar.", "light makes sugar"]
    criteria = np.array([[1.0], [0.0]])
    assert AnswerGrouping(distance_threshold=0.0).fit(texts, criteria).labels_.tolist() == [0, 0]


def test_labels_are_numbered_by_first_member_and_are_deterministic() -> None:
    texts = [ANSWERS[4], ANSWERS[3], *ANSWERS[:3], ANSWERS[3]]
    first = AnswerGrouping().fit(texts)
    second = AnswerGrouping().fit(list(texts))
    assert first.labels_.tolist() == second.labels_.tolist()
    assert first.representatives_.tolist() == second.representatives_.tolist()
    assert first.labels_.tolist() == [0, 1, 2, 2, 2, 1]
    assert first.labels_.dtype.kind == "i"


def test_representative_is_the_most_central_member_of_its_group() -> None:
    texts = [
        "Plants use light energy to make sugar.",
        "Plants use light energy to make sugar by photosynthesis.",
        "Light energy is used by plants to make sugar by photosynthesis in leaves.",
        "Roots take up water from the soil.",
    ]
    grouping = AnswerGrouping().fit(texts)
    assert grouping.labels_.tolist() == [0, 0, 0, 1]
    assert grouping.n_groups_ == len(grouping.representatives_) == 2
    for group, representative in enumerate(grouping.representatives_):
        assert grouping.labels_[representative] == group
    # The middle answer shares most with both others.
    assert grouping.representatives_.tolist() == [1, 3]


def test_representative_of_duplicates_is_the_earliest() -> None:
    grouping = AnswerGrouping().fit(["x y z", "Roots take water.", "X, y, z!", "x y z"])
    assert grouping.labels_.tolist() == [0, 1, 0, 0]
    assert grouping.representatives_.tolist() == [0, 1]


def test_empty_input_gives_no_groups() -> None:
    grouping = AnswerGrouping().fit([])
    assert grouping.labels_.shape == (0,)
    assert grouping.representatives_.shape == (0,)
    assert grouping.n_groups_ == 0


def test_answers_without_words_are_grouped_not_refused() -> None:
    grouping = AnswerGrouping().fit(["", "?!", "the", "   ", "Plants use light."])
    assert grouping.labels_[0] == grouping.labels_[1] == grouping.labels_[3]
    assert grouping.labels_[4] not in grouping.labels_[:4]


def test_fit_predict_gives_the_labels() -> None:
    assert (
        AnswerGrouping().fit_predict(ANSWERS).tolist()
        == AnswerGrouping().fit(ANSWERS).labels_.tolist()
    )


def test_more_than_max_answers_are_refused() -> None:
    with pytest.raises(ValueError, match="at most"):
        AnswerGrouping().fit(["an answer"] * (MAX_ANSWERS + 1))


def test_max_answers_are_grouped() -> None:
    # Distinct answers (so that nothing collapses early) from a small vocabulary.
    rng = np.random.default_rng(0)
    words = np.array("light sugar water root leaf carbon oxygen energy cell make".split())
    texts = [" ".join(rng.choice(words, size=8)) + f" {i}" for i in range(MAX_ANSWERS)]
    grouping = AnswerGrouping().fit(texts)
    assert grouping.labels_.shape == (MAX_ANSWERS,)
    assert grouping.labels_.max() == grouping.n_groups_ - 1


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        (np.ones((2, 1)), "n_answers, n_criteria"),
        (np.ones(3), "n_answers, n_criteria"),
        (np.full((3, 1), 2.0), "between 0 and 1"),
        (np.full((3, 1), np.nan), "between 0 and 1"),
    ],
)
def test_malformed_criteria_are_refused(criteria: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AnswerGrouping().fit(ANSWERS[:3], criteria)


@pytest.mark.parametrize(
    "params",
    [
        {"duplicate_similarity": 0.0},
        {"duplicate_similarity": 1.5},
        {"distance_threshold": -0.1},
        {"distance_threshold": float("nan")},
    ],
)
def test_bad_parameters_are_refused_at_fit(params: dict[str, float]) -> None:
    grouping = AnswerGrouping(**params)  # the constructor only stores them
    with pytest.raises(ValueError, match="must be"):
        grouping.fit(ANSWERS)


def test_texts_must_be_strings() -> None:
    with pytest.raises(ValueError, match="strings"):
        AnswerGrouping().fit("one answer")
    with pytest.raises(ValueError, match="strings"):
        AnswerGrouping().fit(["an answer", None])  # type: ignore[list-item]
