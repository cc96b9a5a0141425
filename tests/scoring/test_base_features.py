"""The base model's word-order feature, and base models stored by engine 2.4."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.scoring import Calibration, Grader, fit_calibration
from service.scoring.calibration import CalibrationError
from service.scoring.features import (
    BASE_FEATURES,
    BASE_FEATURES_2_4,
    NEIGHBOUR_FEATURES,
    NEIGHBOUR_FEATURES_2_4,
    sequence_similarity,
)
from service.scoring.text import content_stems
from tests.scoring.test_calibration import auto_rubric, graded_grader

FIXTURE = Path(__file__).parent / "data" / "calibration_engine_2_4.json"


def test_sequence_similarity_sees_word_order() -> None:
    reference = content_stems("Friction converts kinetic energy into heat.")
    same = content_stems("Friction converts kinetic energy into heat.")
    swapped = content_stems("Heat converts kinetic energy into friction.")
    assert sequence_similarity(same, reference) == 1.0
    # The same words, so bag-of-words similarity cannot tell them apart; the order can.
    assert sorted(swapped) == sorted(reference)
    assert 0.0 < sequence_similarity(swapped, reference) < 1.0
    assert sequence_similarity([], reference) == 0.0
    assert sequence_similarity(reference, []) == 0.0


def test_the_best_reference_gives_the_sequence_similarity() -> None:
    rubric = auto_rubric(
        reference_answers=("The switch breaks the circuit.", "No current flows through the bulb.")
    )
    components = dict(Grader(rubric).grade("No current flows through the bulb.").components)
    assert components["sequence_similarity"] == 1.0
    unrelated = dict(Grader(rubric).grade("Plants need sunlight.").components)
    assert unrelated["sequence_similarity"] == 0.0


def test_new_calibrations_read_the_new_base_features() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    assert calibration.base.features == BASE_FEATURES
    assert calibration.neighbour is not None
    assert calibration.neighbour.features == NEIGHBOUR_FEATURES
    # The base features come first: training data slices them off the neighbour rows.
    assert NEIGHBOUR_FEATURES[: len(BASE_FEATURES)] == BASE_FEATURES


def test_a_calibration_stored_by_engine_2_4_loads_and_scores_as_it_did() -> None:
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))
    calibration = Calibration.from_dict(stored["calibration"])
    assert calibration.base.features == BASE_FEATURES_2_4
    assert calibration.neighbour is not None
    assert calibration.neighbour.features == NEIGHBOUR_FEATURES_2_4
    # No graded answers: the base model scores; with them, the neighbour model.
    for grader, scores in (
        (Grader(auto_rubric(), calibration=calibration), stored["base_scores"]),
        (graded_grader(calibration=calibration), stored["neighbour_scores"]),
    ):
        for expected in scores:
            result = grader.grade(expected["answer"])
            assert (result.raw, result.points, result.model, result.confidence) == (
                expected["raw"],
                expected["points"],
                expected["model"],
                expected["confidence"],
            ), expected["answer"]
            components = dict(result.components)
            assert {k: components[k] for k in expected["components"]} == expected["components"]
    assert calibration.to_dict() == stored["calibration"]


def test_a_base_model_on_an_unknown_feature_list_is_refused() -> None:
    calibration = fit_calibration([graded_grader()])
    assert calibration is not None
    stored = calibration.to_dict()
    stored["base"]["features"] = list(BASE_FEATURES[:-2])
    with pytest.raises(CalibrationError, match=r"base\.features"):
        Calibration.from_dict(stored)
