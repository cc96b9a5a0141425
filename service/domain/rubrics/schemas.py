"""The rubric document: what a file in ``rubrics/`` (or, later, an API body) contains."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from service.domain.submissions.schemas import limit_normalised_length
from service.domain.validation import reject_control_characters
from service.scoring import limits
from service.scoring.keywords import MAX_AUTO_CRITERIA
from service.scoring.text import tokenize

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=1, max_length=64)
]
# No NUL/control characters or lone surrogates: PostgreSQL cannot store them (was a 500).
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(reject_control_characters),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _limit_words(value: str) -> str:
    words = len(tokenize(value))
    if words > limits.MAX_PHRASING_WORDS:
        raise ValueError(f"{words} words; at most {limits.MAX_PHRASING_WORDS} are allowed")
    return value


# The limits of ``service.scoring.limits``, checked here so that a request is refused before
# anything is compiled (the engine checks them again for every other caller).
Phrasing = Annotated[
    Text, Field(max_length=limits.MAX_PHRASING_CHARS), AfterValidator(_limit_words)
]
FeedbackText = Annotated[Text, Field(max_length=limits.MAX_FEEDBACK_CHARS)]


class FeedbackDoc(_Strict):
    hit: Annotated[
        FeedbackText,
        Field(
            description=f"Shown when the criterion is met; at most "
            f"{limits.MAX_FEEDBACK_CHARS} characters."
        ),
    ]
    miss: Annotated[
        FeedbackText,
        Field(
            description=f"Shown when it is missed; at most {limits.MAX_FEEDBACK_CHARS} characters."
        ),
    ]


class CriterionDoc(_Strict):
    id: Slug
    description: Annotated[
        Text,
        Field(
            max_length=limits.MAX_DESCRIPTION_CHARS,
            description=f"At most {limits.MAX_DESCRIPTION_CHARS} characters.",
        ),
    ]
    weight: Annotated[float, Field(gt=0, le=100)] = 1.0
    phrasings: Annotated[
        list[Phrasing],
        Field(
            min_length=1,
            max_length=limits.MAX_PHRASINGS_PER_CRITERION,
            description=f"Phrases that count as covering the criterion: 1 to "
            f"{limits.MAX_PHRASINGS_PER_CRITERION}, each at most {limits.MAX_PHRASING_WORDS} "
            f"words and {limits.MAX_PHRASING_CHARS} characters.",
        ),
    ]
    feedback: FeedbackDoc


class WeightsDoc(_Strict):
    """Blend of keyword coverage and TF-IDF similarity.

    Default 0.7 / 0.3: criteria are authored by the teacher and say *which* ideas count,
    while TF-IDF only measures shared vocabulary and penalises a correct answer in other
    words, so it refines rather than decides the score.
    """

    keywords: Annotated[float, Field(ge=0, le=1)] = 0.7
    similarity: Annotated[float, Field(ge=0, le=1)] = 0.3

    @model_validator(mode="after")
    def _sum_to_one(self) -> WeightsDoc:
        if abs(self.keywords + self.similarity - 1) > 1e-6:
            raise ValueError("keywords and similarity must sum to 1")
        return self


class GradedAnswerDoc(_Strict):
    """An answer an instructor graded: a scored neighbour for new answers, and training
    data for the calibration."""

    answer: Annotated[
        str,
        StringConstraints(min_length=1, max_length=limits.MAX_GRADED_ANSWER_CHARS),
        AfterValidator(limit_normalised_length),
        AfterValidator(reject_control_characters),
        Field(description=f"At most {limits.MAX_GRADED_ANSWER_CHARS} characters."),
    ]
    points: Annotated[float, Field(ge=0)]


class RubricDocument(_Strict):
    id: Slug
    title: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=limits.MAX_TITLE_CHARS),
        AfterValidator(reject_control_characters),
        Field(description=f"At most {limits.MAX_TITLE_CHARS} characters."),
    ]
    prompt: Annotated[
        Text,
        Field(
            max_length=limits.MAX_PROMPT_CHARS,
            description=f"The question; at most {limits.MAX_PROMPT_CHARS} characters.",
        ),
    ]
    max_points: Annotated[float, Field(gt=0, le=1000)]
    language: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$",
            max_length=35,
            description="The language of the question and its answers (BCP 47, e.g. `en`, "
            "`fr-CA`); pages are marked with it, and answers in another language are sent to "
            "a teacher (advisory `other_language`). Unset: pages say English, and the "
            "answers' expected language is read from the prompt and reference answers.",
        ),
    ] = None
    score_step: Annotated[float, Field(gt=0)] = 0.5
    weights: WeightsDoc = WeightsDoc()
    reference_answers: Annotated[
        list[Annotated[Text, Field(max_length=limits.MAX_REFERENCE_CHARS)]],
        Field(
            min_length=1,
            max_length=limits.MAX_REFERENCE_ANSWERS,
            description=f"Model answers: 1 to {limits.MAX_REFERENCE_ANSWERS}, each at most "
            f"{limits.MAX_REFERENCE_CHARS} characters. Without criteria, one is derived per "
            f"content word; results list the {MAX_AUTO_CRITERIA} most informative.",
        ),
    ]
    # Domain text the TF-IDF model is fitted on together with the reference answers.
    background: Annotated[
        str,
        AfterValidator(reject_control_characters),
        Field(
            max_length=limits.MAX_BACKGROUND_CHARS,
            description="Domain text (e.g. the lesson), one document per line; at most "
            f"{limits.MAX_BACKGROUND_CHARS} characters in all.",
        ),
    ] = ""
    # Without authored criteria, the engine derives them from the reference answers.
    criteria: Annotated[
        list[CriterionDoc],
        Field(
            max_length=limits.MAX_CRITERIA,
            description=f"At most {limits.MAX_CRITERIA}; none: derived from the references.",
        ),
    ] = []
    graded_answers: Annotated[
        list[GradedAnswerDoc],
        Field(
            max_length=limits.MAX_GRADED_ANSWERS,
            description=f"At most {limits.MAX_GRADED_ANSWERS}, "
            f"{limits.MAX_GRADED_TOTAL_CHARS} characters of answers in all.",
        ),
    ] = []
    # A fitted ``service.scoring.Calibration`` as plain data (``to_dict``), or none: the
    # default weights score. Written by the calibrate endpoint, not by hand.
    calibration: Annotated[
        dict[str, Any] | None,
        Field(
            description="Written by the calibrate endpoint. Accepted only if it validates: "
            "finite numbers, non-decreasing isotonic maps onto 0..1, arrays that match the "
            "engine's features."
        ),
    ] = None

    @field_validator("graded_answers")
    @classmethod
    def _graded_total_length(cls, value: list[GradedAnswerDoc]) -> list[GradedAnswerDoc]:
        total = sum(len(graded.answer) for graded in value)
        if total > limits.MAX_GRADED_TOTAL_CHARS:
            raise ValueError(
                f"{total} characters of answers in all; at most "
                f"{limits.MAX_GRADED_TOTAL_CHARS} are allowed"
            )
        return value

    @model_validator(mode="after")
    def _graded_within_scale(self) -> RubricDocument:
        for index, graded in enumerate(self.graded_answers):
            if graded.points > self.max_points:
                raise ValueError(
                    f"graded_answers[{index}].points {graded.points:g} is above max_points"
                )
        return self

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        # Fields added later hash as absent while unset, so that a rubric stored before they
        # existed keeps its hash (and a restart does not import it again as a new version).
        for name in ("language",):
            if data.get(name) is None:
                data.pop(name, None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal rubrics hash equal whatever the YAML layout."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class RubricVersionRead(BaseModel):
    version: int
    content_hash: str
    source: str
    created_at: datetime
    rubric: dict[str, Any] = Field(description="The rubric document of this version.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_RUBRIC_VERSION_LIST_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "items": [
            {
                "version": 1,
                "content_hash": "2ab68d9bc18cb3684abe6a46fcf215cc3e7d717676fe3f87f985f52f1b173c9f",
                "source": "api",
                "created_at": "2026-12-02T15:08:37.120705Z",
                "rubric": {
                    "id": "photosynthesis-1",
                    "title": "What photosynthesis makes",
                    "prompt": "What do plants make in photosynthesis, and from what?",
                    "max_points": 4.0,
                    "language": None,
                    "score_step": 0.5,
                    "weights": {"keywords": 0.7, "similarity": 0.3},
                    "reference_answers": [
                        "Plants use light energy to turn carbon "
                        "dioxide and water into glucose and "
                        "oxygen."
                    ],
                    "background": "",
                    "criteria": [
                        {
                            "id": "products",
                            "description": "Names glucose (sugar) and oxygen as the products",
                            "weight": 2.0,
                            "phrasings": ["glucose", "sugar", "oxygen"],
                            "feedback": {
                                "hit": "You named the products.",
                                "miss": "What does the plant make?",
                            },
                        }
                    ],
                    "graded_answers": [],
                    "calibration": None,
                },
            },
            {
                "version": 2,
                "content_hash": "0ed4ed598874ceed6a0e80059b8770f8a6dfc005b4bc506878980589f52cab8c",
                "source": "api",
                "created_at": "2026-12-02T15:08:37.134367Z",
                "rubric": {
                    "id": "photosynthesis-1",
                    "title": "What photosynthesis makes",
                    "prompt": "What do plants make in photosynthesis, and from what?",
                    "max_points": 5.0,
                    "language": None,
                    "score_step": 0.5,
                    "weights": {"keywords": 0.7, "similarity": 0.3},
                    "reference_answers": [
                        "Plants use light energy to turn carbon "
                        "dioxide and water into glucose and "
                        "oxygen."
                    ],
                    "background": "",
                    "criteria": [
                        {
                            "id": "products",
                            "description": "Names glucose (sugar) and oxygen as the products",
                            "weight": 2.0,
                            "phrasings": ["glucose", "sugar", "oxygen"],
                            "feedback": {
                                "hit": "You named the products.",
                                "miss": "What does the plant make?",
                            },
                        }
                    ],
                    "graded_answers": [],
                    "calibration": None,
                },
            },
        ],
    }
]


class RubricVersionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _RUBRIC_VERSION_LIST_EXAMPLES})

    question_id: str
    items: list[RubricVersionRead]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_CALIBRATE_REQUEST_EXAMPLES: list[JsonValue] = [
    {
        "use_overrides": True,
        "graded_answers": [{"answer": "Glucose and oxygen, from CO2 and water.", "points": 4}],
    }
]


class CalibrateRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _CALIBRATE_REQUEST_EXAMPLES}, extra="forbid"
    )

    use_overrides: bool = Field(
        default=True, description="Learn from submissions whose score an instructor overrode."
    )
    graded_answers: Annotated[list[GradedAnswerDoc], Field(max_length=5000)] = Field(
        default=[], description="More answers with the points an instructor gave them."
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_CALIBRATION_READ_EXAMPLES: list[JsonValue] = [
    {
        "question_id": "photosynthesis-1",
        "rubric_version": 3,
        "graded_answers": 2,
        "calibrated": False,
        "calibration_kind": None,
        "min_examples": 5,
        "min_full_examples": 20,
    }
]


class CalibrationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _CALIBRATION_READ_EXAMPLES})

    question_id: str
    rubric_version: int = Field(description="The new rubric version; rescore to apply it.")
    graded_answers: int = Field(description="Graded answers the version now learns from.")
    calibrated: bool = Field(
        description="True when there were enough graded answers to fit a calibration; "
        "otherwise the default weights keep scoring (graded answers still serve as neighbours)."
    )
    calibration_kind: Literal["full", "few-shot"] | None = Field(
        description="`few-shot`: a map of the machine score fitted on the question's few "
        "grades; `full`: the model over every component; null when not calibrated."
    )
    min_examples: int = Field(description="Fewest graded answers that calibrate (few-shot).")
    min_full_examples: int = Field(description="Fewest graded answers for the full model.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_RUBRIC_SAVED_EXAMPLES: list[JsonValue] = [
    {"question_id": "photosynthesis-1", "rubric_version": 1, "created": True},
    {"question_id": "photosynthesis-1", "rubric_version": 2, "created": True},
]


class RubricSaved(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _RUBRIC_SAVED_EXAMPLES})

    question_id: str
    rubric_version: int
    created: bool = Field(description="False when the rubric was identical to the current one.")
