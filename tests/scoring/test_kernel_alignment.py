"""The per-question kernel estimate, the negation alignment features, and old calibrations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.scoring import Calibration, GradedAnswer, Grader, fit_calibration
from service.scoring.calibration import CalibrationError
from service.scoring.features import (
    NEIGHBOUR_FEATURES,
    NEIGHBOUR_FEATURES_2_3,
    Polarity,
    alignment_features,
)
from service.scoring.kernel import MAX_BASIS, KernelModel, basis_of
from service.scoring.similarity import NEGATED, polar_stems
from service.scoring.text import tokenize
from tests.scoring.test_calibration import GRADED, auto_rubric, graded_grader

FIXTURE = Path(__file__).parent / "data" / "calibration_engine_2_3.json"


def _similarities(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of random non-negative unit vectors, and scores that depend on
    the vectors (so a kernel model has something to learn)."""
    rng = np.random.default_rng(seed)
    vectors = rng.random((n, 6)) ** 3
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = np.clip(vectors[:, 0] * 1.5, 0.0, 1.0)
    return vectors @ vectors.T, scores


def test_kernel_leave_one_out_equals_refitting_without_the_answer() -> None:
    similarities, scores = _similarities(30, seed=1)
    model = KernelModel.fit(similarities, scores, np.arange(30))
    assert model is not None
    kernel = np.exp(-(1.0 - similarities) / model.width)
    for i in (0, 7, 29):
        keep = np.delete(np.arange(30), i)
        mean = scores[keep].mean()
        alpha = np.linalg.solve(
            kernel[np.ix_(keep, keep)] + model.penalty * np.eye(29), scores[keep] - mean
        )
        refit = float(np.clip(mean + kernel[i, keep] @ alpha, 0.0, 1.0))
        assert model.loo[i] == pytest.approx(refit, abs=1e-8)
    assert model.mean == pytest.approx(scores.mean())


def test_kernel_prediction_follows_similar_graded_answers() -> None:
    similarities, scores = _similarities(40, seed=2)
    model = KernelModel.fit(similarities, scores, np.arange(40))
    assert model is not None
    high, low = int(np.argmax(scores)), int(np.argmin(scores))
    # A new answer identical to a graded one gets an estimate near that answer's grade.
    assert model.predict(similarities[high]) > model.predict(similarities[low]) + 0.3
    assert 0.0 <= model.predict(np.zeros(40)) <= 1.0
    # It is better than predicting the mean on answers it did not see.
    assert model.loo_rmse < float(np.std(scores))


def test_kernel_needs_a_few_answers_and_caps_its_basis() -> None:
    similarities, scores = _similarities(4, seed=3)
    assert KernelModel.fit(similarities, scores, np.arange(4)) is None
    basis = basis_of(3 * MAX_BASIS)
    assert basis.size == MAX_BASIS
    assert basis[0] == 0
    assert basis[-1] == 3 * MAX_BASIS - 1
    assert basis_of(10).tolist() == list(range(10))


def _alignment(answer: str, reference: str) -> dict[str, float]:
    return alignment_features(Polarity.of(tokenize(answer)), Polarity.of(tokenize(reference)))


def test_a_negated_answer_is_flagged_against_a_plain_reference() -> None:
    reference = "The bulb is in a closed path with the battery."
    contradiction = _alignment("The bulb is not in a closed path with the battery.", reference)
    assert contradiction["negation_mismatch"] == 1.0
    assert contradiction["polarity_flips"] > 0.0
    assert contradiction["negation_difference"] == 0.5
    same = _alignment("The bulb is in a closed path.", reference)
    assert same == {"negation_mismatch": 0.0, "polarity_flips": 0.0, "negation_difference": 0.0}
    # Both negated: they agree.
    both = _alignment("There is no gap.", "There is no gap in the path.")
    assert both["negation_mismatch"] == 0.0
    assert both["polarity_flips"] == 0.0


def test_grades_list_the_new_components_with_neighbours() -> None:
    grader = graded_grader()
    # The reference says "no current flows"; this answer has no negation at all.
    components = dict(grader.grade("The circuit is broken so current flows.").components)
    assert tuple(components) == NEIGHBOUR_FEATURES
    assert components["negation_mismatch"] == 1.0
    assert 0.0 <= components["neighbour_kernel"] <= 1.0
    # Without graded answers the neighbour columns are zero, the new ones too.
    alone = dict(Grader(auto_rubric()).grade("The circuit is broken.").components)
    assert alone["neighbour_kernel"] == 0.0
    assert alone["negation_mismatch"] == 0.0


def test_training_rows_use_the_leave_one_out_kernel_estimate() -> None:
    grader = graded_grader()
    x, y = grader.training_rows()
    column = x[:, NEIGHBOUR_FEATURES.index("neighbour_kernel")]
    assert (column >= 0).all()
    assert (column <= 1).all()
    # An answer graded twice is its own nearest neighbour: left out, only its twin remains,
    # so the estimate is not simply its own grade read back.
    index = grader._neighbours
    assert index is not None
    assert index.kernels_ is not None
    for name, model in zip(
        ("neighbour_kernel", "neighbour_kernel_words", "neighbour_kernel_chars"),
        index.kernels_,
        strict=True,
    ):
        column = x[:, NEIGHBOUR_FEATURES.index(name)]
        assert column.tolist() == pytest.approx(model.loo.tolist())
    assert len(y) == 2 * len(GRADED)


def test_a_calibration_stored_by_engine_2_3_loads_and_scores_as_it_did() -> None:
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    calibration = Calibration.from_dict(stored["calibration"])
    assert calibration.neighbour is not None
    assert calibration.neighbour.features == NEIGHBOUR_FEATURES_2_3
    grader = graded_grader(calibration=calibration)
    for expected in stored["scores"]:
        result = grader.grade(expected["answer"])
        assert (result.raw, result.points, result.model) == (
            expected["raw"],
            expected["points"],
            expected["model"],
        )
        components = dict(result.components)
        assert {name: components[name] for name in expected["components"]} == expected["components"]
    # Stored again, it is the same data (the old feature list is kept, not upgraded).
    assert calibration.to_dict() == stored["calibration"]


def test_a_new_calibration_reads_the_new_features_and_round_trips() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    assert calibration.neighbour is not None
    assert calibration.neighbour.features == NEIGHBOUR_FEATURES
    restored = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    grader = graded_grader(calibration=calibration)
    again = graded_grader(calibration=restored)
    for answer, _ in GRADED:
        assert grader.grade(answer) == again.grade(answer)


def test_a_neighbour_model_on_an_unknown_feature_list_is_refused() -> None:
    data = fit_calibration([graded_grader()])
    assert data is not None
    stored = data.to_dict()
    stored["neighbour"]["features"] = list(NEIGHBOUR_FEATURES[:-1])
    with pytest.raises(CalibrationError, match=r"neighbour\.features"):
        Calibration.from_dict(stored)


def test_the_kernel_tells_a_negated_answer_from_the_plain_one() -> None:
    # Word TF-IDF drops "not" (a stop word): without marking negated stems these answers
    # would be the same to the word model.
    graded = [
        GradedAnswer("The bulb is in a closed path with the battery.", 2.0),
        GradedAnswer("The bulb is in a closed path.", 2.0),
        GradedAnswer("Bulb in closed path with battery.", 2.0),
        GradedAnswer("The bulb is not in a closed path with the battery.", 0.0),
        GradedAnswer("The bulb is not in a closed path.", 0.0),
        GradedAnswer("Bulb not in closed path with battery.", 0.0),
    ]
    grader = Grader(auto_rubric(), graded=graded * 2)
    plain = dict(grader.grade("The bulb is in a closed path with a battery.").components)
    negated = dict(grader.grade("The bulb is not in a closed path with a battery.").components)
    assert plain["neighbour_kernel"] > negated["neighbour_kernel"] + 0.3


def test_negated_stems_are_marked_for_the_kernel_word_model() -> None:
    plain = polar_stems(tokenize("The bulb is in a closed path."))
    negated = polar_stems(tokenize("The bulb is not in a closed path."))
    assert NEGATED + "bulb" not in negated  # "not" reaches forward only
    assert set(negated) - set(plain) == {NEGATED + "close"}  # within the negation's reach
    assert not set(plain) & {s for s in negated if s.startswith(NEGATED)}
