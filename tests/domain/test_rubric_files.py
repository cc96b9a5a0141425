"""Every shipped rubric loads, and is written so a teacher would sign it off."""

from __future__ import annotations

import pytest

from service.domain.rubrics.service import load_rubric_dir, load_rubric_file
from service.scoring.text import content_stems
from tests.conftest import RUBRICS_DIR, SEED_QUESTION_IDS


def test_every_rubric_file_loads() -> None:
    assert [doc.id for doc in load_rubric_dir(RUBRICS_DIR)] == SEED_QUESTION_IDS


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_seed_rubrics_have_four_to_seven_distinct_criteria(question_id: str) -> None:
    document = load_rubric_file(RUBRICS_DIR / f"{question_id}.yaml")
    assert 4 <= len(document.criteria) <= 7
    assert len(document.reference_answers) >= 1
    for criterion in document.criteria:
        assert criterion.feedback.hit != criterion.feedback.miss


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_no_phrasing_is_earned_by_copying_the_question(question_id: str) -> None:
    document = load_rubric_file(RUBRICS_DIR / f"{question_id}.yaml")
    prompt_stems = set(content_stems(document.prompt))
    for criterion in document.criteria:
        for phrasing in criterion.phrasings:
            assert not set(content_stems(phrasing)) <= prompt_stems, (criterion.id, phrasing)
