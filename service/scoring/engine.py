"""The grader: compile a rubric once, then score answers with it.

``Grader(rubric)`` validates and fits everything that does not depend on the answer, so that
``grade(answer)`` is cheap, pure and deterministic: the same rubric and answer always give
the same ``ScoreBreakdown``, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from service.scoring.advisories import (
    ECHOES_FEEDBACK,
    Advisory,
    AnswerContext,
    FeedbackEcho,
    apply_caps,
    assess,
)
from service.scoring.calibration import MIN_EXAMPLES, Calibration
from service.scoring.confidence import (
    REVIEW_THRESHOLD,
    fewshot_confidence,
    rule_confidence,
)
from service.scoring.errors import RubricError, ScoringError
from service.scoring.features import (
    BASE_FEATURES,
    MIN_NEIGHBOURS,
    NEIGHBOUR_FEATURES,
    NO_ALIGNMENT,
    Polarity,
    alignment_features,
    base_features,
    feature_rows,
    neighbour_features,
    no_neighbour_features,
    percentile,
    similarity_to_unit,
)
from service.scoring.feedback import (
    DERIVED_FEEDBACK_HIT,
    DERIVED_FEEDBACK_MISS,
    feedback_texts,
    summary,
)
from service.scoring.fewshot import FewShotCalibration
from service.scoring.keywords import (
    MAX_AUTO_CRITERIA,
    CompiledCriterion,
    CriterionMatch,
    compile_criterion,
    coverage,
    derive_criteria,
)
from service.scoring.matching import Found, Matcher
from service.scoring.similarity import (
    CharSimilarityScorer,
    NeighbourIndex,
    Neighbours,
    SimilarityScorer,
    polar_stems,
)
from service.scoring.spelling import SpellingCorrector
from service.scoring.text import Token, content_stems, content_tokens, tokenize
from service.scoring.types import CriterionResult, GradedAnswer, RubricSpec, ScoreBreakdown
from service.scoring.validation import check_reference_covers_criteria, validate_rubric

# Bump whenever any output of ``Grader.grade`` can change for the same rubric and answer:
# stored results carry it, so old and new scores can always be told apart.
ENGINE_VERSION = "2.4.0"


def round_to_step(value: float, step: float) -> float:
    """Round half up to a multiple of ``step`` (0.5 steps: 7.25 -> 7.5, 7.24 -> 7.0).

    The value is first rounded to 9 decimals so that float noise (7.2499999999) cannot
    push a score that is exactly on a boundary down a step.
    """
    return math.floor(round(value / step, 9) + 0.5) * step


@dataclasses.dataclass(frozen=True, slots=True)
class _Measured:
    """Everything measured on one answer before a model turns it into a score."""

    matches: tuple[CriterionMatch, ...]
    features: dict[str, float]
    neighbours: Neighbours | None


class Grader:
    """A compiled rubric. Construction raises ``RubricError`` for an unusable rubric.

    ``graded``: instructor-graded answers of this question, used as scored neighbours (and
    as the training data of ``fit_calibration``). ``calibration``: a fitted model to use
    instead of the rubric's default weights. Criteria are derived from the reference
    answers when the rubric has none.
    """

    def __init__(
        self,
        rubric: RubricSpec,
        *,
        graded: Sequence[GradedAnswer] = (),
        calibration: Calibration | FewShotCalibration | None = None,
    ) -> None:
        graded = tuple(graded)
        validate_rubric(rubric, graded)
        self.rubric = rubric
        self.graded = graded
        self.calibration = calibration
        references = rubric.reference_answers
        material = [*rubric.background, *references]
        derived = derive_criteria(references, rubric.prompt, material)
        self.auto_criteria = not rubric.criteria
        self._terms: tuple[CompiledCriterion, ...] = tuple(
            compile_criterion(
                dataclasses.replace(
                    spec, feedback_hit=DERIVED_FEEDBACK_HIT, feedback_miss=DERIVED_FEEDBACK_MISS
                ),
                field=f"criteria[{i}]",
            )
            for i, spec in enumerate(derived.criteria)
        )
        self._terms_by_reference = derived.by_reference
        if self.auto_criteria:
            self.criteria = self._terms
        else:
            self.criteria = tuple(
                compile_criterion(spec, field=f"criteria[{i}]")
                for i, spec in enumerate(rubric.criteria)
            )
        # Derived criteria reported per answer: the most informative terms (highest weight,
        # the earlier on a tie), in the model answer's order. A long reference has hundreds
        # of words; every one still counts towards coverage, but a result (stored with every
        # submission) lists only these.
        by_weight = sorted(range(len(self._terms)), key=lambda i: -self._terms[i].spec.weight)
        self._reported = tuple(sorted(by_weight[:MAX_AUTO_CRITERIA]))
        self._term_matcher = Matcher(self._terms)
        self._criteria_matcher = (
            self._term_matcher if self.auto_criteria else Matcher(self.criteria)
        )
        # Per reference answer: its terms and their total weight, summed exactly as
        # ``keywords.reference_coverage`` sums them.
        self._reference_totals = tuple(
            (
                tuple((i, self._terms[i].spec.weight) for i in indices),
                sum(self._terms[i].spec.weight for i in indices),
            )
            for indices in self._terms_by_reference
        )
        self._demoted = frozenset(content_stems(rubric.prompt))
        vocabulary = [t.text for text in (*material, rubric.prompt) for t in tokenize(text)]
        vocabulary += [t.text for c in self.criteria for p in c.spec.phrasings for t in tokenize(p)]
        self._speller = SpellingCorrector(vocabulary)
        self._reference_length = (
            float(np.mean([len(content_tokens(r)) for r in references])) if references else 0.0
        )
        self.similarity: SimilarityScorer | None = None
        self.char_similarity: CharSimilarityScorer | None = None
        if references:
            try:
                self.similarity = SimilarityScorer(demoted=self._demoted).fit(
                    references, rubric.background
                )
                self.char_similarity = CharSimilarityScorer().fit(references, rubric.background)
            except ValueError as exc:
                raise RubricError("reference_answers", f"cannot build TF-IDF model: {exc}") from exc
            if not self.auto_criteria:
                check_reference_covers_criteria(references[0], self.criteria)
        # Gaming and can't-grade checks need the question's own material; a question known
        # only through graded answers (no reference) goes without them.
        self._advisory_context: AnswerContext | None = None
        if references:
            self._advisory_context = AnswerContext.build(
                prompt=rubric.prompt,
                reference_answers=references,
                # Stuffing means listing a rubric's curated phrasings; derived criteria are
                # just the reference's words, and a terse list of them is often the right
                # answer to a "name the ..." question.
                phrasings=(
                    []
                    if self.auto_criteria
                    else [p for c in self.criteria for p in c.spec.phrasings]
                ),
                background=rubric.background,
                language=rubric.language,
            )
        # Everything a student of this question could be shown, so that an answer pasting it
        # back earns nothing for it (the question's own material is not counted as copied).
        self._echo = FeedbackEcho.build(
            feedback_texts(self.criteria),
            [
                rubric.prompt,
                *material,
                *(p for c in (*self.criteria, *self._terms) for p in c.spec.phrasings),
            ],
        )
        # What the alignment features compare an answer with, per reference answer.
        self._reference_polarity = tuple(Polarity.of(tokenize(r)) for r in references)
        self._neighbours: NeighbourIndex | None = None
        if self.graded:
            self._index_graded(material)

    def _index_graded(self, material: Sequence[str]) -> None:
        """The graded answers as scored neighbours, and the sorted base features that a new
        answer's percentile features are ranked among."""
        scores = [_fraction(g.points, self.rubric.max_points) for g in self.graded]
        self._neighbours = NeighbourIndex(demoted=self._demoted).fit(
            [g.answer for g in self.graded], scores, material
        )
        graded_base = feature_rows(
            [self._measure_base(g.answer)[1] for g in self.graded], BASE_FEATURES
        )
        self._graded_scores = np.asarray(scores, dtype=np.float64)
        self._sorted_similarity = np.sort(graded_base[:, BASE_FEATURES.index("similarity")])
        self._sorted_coverage = np.sort(graded_base[:, BASE_FEATURES.index("term_coverage")])

    def with_calibration(self, calibration: Calibration | FewShotCalibration | None) -> Grader:
        """The same compiled rubric and graded answers with another calibration."""
        clone = object.__new__(Grader)
        clone.__dict__.update(self.__dict__)
        clone.calibration = calibration
        return clone

    def grade(self, answer: str) -> ScoreBreakdown:
        tokens = tokenize(answer)  # once: measuring and the advisories share them
        # Text copied from the question's feedback is blanked out before anything is
        # measured: it earns no keyword, similarity or neighbour credit. Offsets are kept,
        # so spans still point into the answer as submitted.
        echo = self._echo.find(tokens)
        if echo.spans:
            answer = echo.strip(answer)
            tokens = tokenize(answer)
        measured = self._measure(answer, tokens=tokens)
        rubric = self.rubric
        features = measured.features
        # The similarity component: word and character n-gram TF-IDF similarity, averaged
        # (characters forgive compounds, partial words and misspellings that stems miss).
        similarity = (features["similarity"] + features["char_similarity"]) / 2
        model, raw = self._model_score(measured, similarity)
        predicted = raw  # before any cap: what the error profile was fitted on
        advisories: tuple[Advisory, ...] = ()
        if self._advisory_context is not None:
            advisories = assess(
                answer,
                self._advisory_context,
                similarity=min(1.0, max(0.0, similarity)),
                coverage=min(1.0, max(0.0, features["keyword_coverage"])),
                tokens=tokens,
                echo=echo,
            )
            raw = apply_caps(raw, advisories)
        elif echo.flagged:
            advisories = (ECHOES_FEEDBACK,)
        points = float(
            min(rubric.max_points, round_to_step(raw * rubric.max_points, rubric.score_step))
        )
        if not 0 <= points <= rubric.max_points:  # also false for NaN
            raise ScoringError(f"points {points!r} outside 0..{rubric.max_points:g}")
        confidence, unsure = self._confidence(measured, similarity, predicted, raw)
        results, counts = self._criterion_results(measured.matches)
        return ScoreBreakdown(
            points=points,
            max_points=rubric.max_points,
            score=round(points / rubric.max_points, 4),
            raw=round(raw, 4),
            keyword_coverage=round(_unit(features["keyword_coverage"], "keyword coverage"), 4),
            similarity=round(_unit(similarity, "similarity"), 4),
            criteria=results,
            summary=summary(counts, points, rubric.max_points),
            model=model,
            confidence=confidence,
            needs_review=unsure or any(advisory.needs_review for advisory in advisories),
            neighbour_score=(
                round(measured.neighbours.mean, 4) if measured.neighbours is not None else None
            ),
            components=tuple(
                zip(
                    NEIGHBOUR_FEATURES,
                    [round(features[name], 4) for name in NEIGHBOUR_FEATURES],
                    strict=True,
                )
            ),
            advisories=advisories,
        )

    def _model_score(self, measured: _Measured, similarity: float) -> tuple[str, float]:
        """The model that scores this answer ("default" or "calibrated") and its score in
        0..1, before any advisory cap."""
        features = measured.features
        calibration = self.calibration
        if calibration is None:
            return "default", self._default_raw(features, similarity)
        if isinstance(calibration, FewShotCalibration):
            # Few teacher grades: a shrunk map of the default blend (see ``fewshot``).
            neighbours = measured.neighbours
            return "calibrated", calibration.predict(
                self._default_raw(features, similarity),
                neighbours.mean if neighbours is not None else None,
            )
        if calibration.neighbour is not None and measured.neighbours is not None:
            # The columns the model was fitted on (an older engine's model reads fewer).
            neighbour = calibration.neighbour
            raw = float(neighbour.predict(feature_rows([features], neighbour.features))[0])
        else:
            raw = float(calibration.base.predict(feature_rows([features], BASE_FEATURES))[0])
        # A validated calibration predicts within 0..1; this holds whatever it says.
        return "calibrated", _unit(raw, "calibrated score")

    def _confidence(
        self, measured: _Measured, similarity: float, predicted: float, raw: float
    ) -> tuple[float, bool]:
        """Confidence (0..1) and whether it is low enough for a teacher to review: from the
        calibration's error profile where it has one, else by rule (see ``confidence``).
        ``predicted``: the model's score, ``raw``: after any advisory cap."""
        calibration = self.calibration
        if isinstance(calibration, Calibration) and calibration.error is not None:
            neighbours = calibration.neighbour is not None and measured.neighbours is not None
            base_predicted = None
            if neighbours:
                base_row = feature_rows([measured.features], BASE_FEATURES)
                base_predicted = float(calibration.base.predict(base_row)[0])
            expected = calibration.error.expected_error(
                predicted,
                feature_rows([measured.features])[0],
                neighbours=neighbours,
                steps=self.rubric.max_points / self.rubric.score_step,
                base_predicted=base_predicted,
            )
            return round(1.0 - expected, 4), calibration.error.needs_review(
                expected, neighbours=neighbours
            )
        rule = rule_confidence(
            raw,
            (measured.features["keyword_coverage"], similarity),
            measured.neighbours,
            self.rubric,
        )
        if isinstance(calibration, FewShotCalibration):
            rule = fewshot_confidence(rule, calibration.error)
        return rule, rule < REVIEW_THRESHOLD

    def _criterion_results(
        self, matches: tuple[CriterionMatch, ...]
    ) -> tuple[tuple[CriterionResult, ...], tuple[int, int]]:
        """The criteria reported for an answer and (criteria met, criteria in all): every
        derived term counts, but only the ``MAX_AUTO_CRITERIA`` most informative are listed."""
        if self.auto_criteria:
            counts = (sum(m.phrasing is not None for m in matches), len(matches))
            return self._term_matcher.results_at(matches, self._reported), counts
        results = self._criteria_matcher.results(matches)
        return results, (sum(r.met for r in results), len(results))

    def _default_raw(self, features: Mapping[str, float], similarity: float) -> float:
        """The rubric's fixed blend of keyword coverage and similarity, 0..1."""
        rubric = self.rubric
        blend = (
            rubric.keyword_weight * features["keyword_coverage"]
            + rubric.similarity_weight * similarity
        )
        return min(1.0, max(0.0, blend))

    def fewshot_rows(self) -> tuple[list[float], list[float] | None, list[float]]:
        """Per graded answer, with itself left out of its neighbours: the default blend, the
        neighbours' mean score (``None`` for all when too few are left to be neighbours)
        and the teacher's score, all 0..1: the data of ``FewShotCalibration.fit``."""
        measured = [self._measure(g.answer, exclude=i) for i, g in enumerate(self.graded)]
        machine = [
            self._default_raw(
                m.features, (m.features["similarity"] + m.features["char_similarity"]) / 2
            )
            for m in measured
        ]
        means = [m.neighbours.mean for m in measured if m.neighbours is not None]
        neighbour = means if measured and len(means) == len(measured) else None
        y = [_fraction(g.points, self.rubric.max_points) for g in self.graded]
        return machine, neighbour, y

    def training_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Features (``NEIGHBOUR_FEATURES`` columns) of every graded answer, with itself left
        out of its neighbours as it will be for a new answer, and its score (0..1)."""
        measured = [self._measure(g.answer, exclude=i).features for i, g in enumerate(self.graded)]
        y = np.asarray(
            [_fraction(g.points, self.rubric.max_points) for g in self.graded], dtype=np.float64
        )
        return feature_rows(measured), y

    def _tokens(self, content: list[Token]) -> list[Token]:
        """Content tokens, misspellings of the question's words corrected (spans unchanged)."""
        known = self._speller.known_stems
        correct = self._speller.correct
        tokens = content
        for index, token in enumerate(content):
            if token.stem not in known:
                corrected = correct(token.text)
                if corrected is not None:
                    if tokens is content:
                        tokens = list(content)
                    tokens[index] = token._replace(stem=corrected)
        return tokens

    def _measure_base(
        self, answer: str, tokens: Sequence[Token] | None = None
    ) -> tuple[tuple[CriterionMatch, ...], dict[str, float]]:
        """Criterion matches and base features; ``tokens``: ``tokenize(answer)``, if known."""
        if tokens is None:
            tokens = tokenize(answer)
        content = self._tokens([t for t in tokens if not t.is_stop])
        stems = [t.stem for t in content]
        found = Found.of(content)
        if self.auto_criteria:
            matches = self._term_matcher.match(content, answer, found)
            term_coverage = self._reference_coverage([m.phrasing is not None for m in matches])
            keyword_coverage = term_coverage
        else:
            # The terms only count towards coverage: which are met is all that is needed.
            term_coverage = self._reference_coverage(self._term_matcher.met(content, found))
            matches = self._criteria_matcher.match(content, answer, found)
            keyword_coverage = coverage(matches)
        similarity = similarity_to_unit(self.similarity.score(stems)) if self.similarity else 0.0
        # Character n-grams of the whole text, but only when it has a content word at all:
        # "the of and" must not look similar through its function words.
        char_similarity = (
            similarity_to_unit(self.char_similarity.score(answer))
            if self.char_similarity and content
            else 0.0
        )
        features = base_features(
            keyword_coverage=keyword_coverage,
            term_coverage=term_coverage,
            similarity=similarity,
            char_similarity=char_similarity,
            stems=stems,
            known=self._speller.known_stems,
            demoted=self._demoted,
            reference_length=self._reference_length,
        )
        return matches, features

    def _reference_coverage(self, met_flags: Sequence[bool]) -> float:
        """``keywords.reference_coverage`` of the terms (``met_flags``: which are met), the
        totals summed once (same sums in the same order, so the same floats)."""
        best = 0.0
        for weights, total in self._reference_totals:
            if total > 0:
                met = sum([weight for i, weight in weights if met_flags[i]])
                best = max(best, met / total)
        return best

    def _measure(
        self, answer: str, *, exclude: int | None = None, tokens: Sequence[Token] | None = None
    ) -> _Measured:
        if tokens is None:
            tokens = tokenize(answer)
        matches, features = self._measure_base(answer, tokens)
        neighbours = None
        index = self._neighbours
        graded_count = len(self.graded) - (exclude is not None)
        if index is not None and graded_count >= MIN_NEIGHBOURS:
            raw_stems = [t.stem for t in tokens if not t.is_stop]  # uncorrected
            neighbours = index.query(answer, raw_stems, exclude=exclude, polar=polar_stems(tokens))
            scores = self._graded_scores
            graded_mean = (
                float((scores.sum() - scores[exclude]) / graded_count)
                if exclude is not None
                else float(scores.mean())
            )
            features |= neighbour_features(
                neighbours,
                graded_mean=graded_mean,
                similarity_percentile=percentile(self._sorted_similarity, features["similarity"]),
                coverage_percentile=percentile(self._sorted_coverage, features["term_coverage"]),
                alignment=self._alignment(tokens, raw_stems),
            )
        else:
            features |= no_neighbour_features()
        return _Measured(matches, features, neighbours)

    def _alignment(self, tokens: Sequence[Token], stems: Sequence[str]) -> dict[str, float]:
        """``alignment_features`` against the reference nearest in words (none: zeros)."""
        if self.similarity is None or not self._reference_polarity:
            return dict(NO_ALIGNMENT)
        nearest = self.similarity.nearest(stems)
        return alignment_features(Polarity.of(tokens), self._reference_polarity[nearest])


def _unit(value: float, what: str) -> float:
    """``value`` clamped to 0..1 (unchanged when inside); a non-finite one is an engine
    error, never a stored score."""
    if not math.isfinite(value):
        raise ScoringError(f"{what} is not a finite number ({value!r})")
    return min(1.0, max(0.0, value))


def _fraction(points: float, max_points: float) -> float:
    return min(1.0, max(0.0, points / max_points))


@dataclasses.dataclass(frozen=True, slots=True)
class TrainingData:
    """What ``Calibration.fit`` learns from, in scikit-learn's shape.

    ``x``: one row per graded answer, ``BASE_FEATURES`` columns; ``y``: its score (0..1).
    ``x_neighbour``, ``y_neighbour``: the same for the answers whose question has enough
    other graded answers for real neighbour features, with ``NEIGHBOUR_FEATURES`` columns.
    ``steps``, ``steps_neighbour``: each row's rubric's ``max_points / score_step``.
    """

    x: np.ndarray
    y: np.ndarray
    x_neighbour: np.ndarray
    y_neighbour: np.ndarray
    steps: np.ndarray
    steps_neighbour: np.ndarray


def training_data(graders: Sequence[Grader]) -> TrainingData:
    """The graded answers each grader holds (``Grader(..., graded=...)``) as training rows.

    One grader: data for a per-rubric calibration. Several: for a model over
    question-independent components shared by the questions (e.g. a course).
    """
    base: list[np.ndarray] = []
    base_y: list[np.ndarray] = []
    full: list[np.ndarray] = []
    full_y: list[np.ndarray] = []
    steps: list[np.ndarray] = []
    full_steps: list[np.ndarray] = []
    for grader in graders:
        rows, y = grader.training_rows()
        base.append(rows[:, : len(BASE_FEATURES)])
        base_y.append(y)
        rubric = grader.rubric
        steps.append(np.full(len(y), rubric.max_points / rubric.score_step))
        # With the answer itself left out, the question must still have enough neighbours.
        if len(grader.graded) - 1 >= MIN_NEIGHBOURS:
            full.append(rows)
            full_y.append(y)
            full_steps.append(steps[-1])
    return TrainingData(
        x=_stack(base, len(BASE_FEATURES)),
        y=np.concatenate(base_y) if base_y else np.zeros(0),
        x_neighbour=_stack(full, len(NEIGHBOUR_FEATURES)),
        y_neighbour=np.concatenate(full_y) if full_y else np.zeros(0),
        steps=np.concatenate(steps) if steps else np.zeros(0),
        steps_neighbour=np.concatenate(full_steps) if full_steps else np.zeros(0),
    )


def fit_calibration(graders: Sequence[Grader]) -> Calibration | None:
    """A calibration fitted on the graded answers the graders hold, or ``None`` (keep the
    default weights) when there are fewer than ``MIN_EXAMPLES``: the helper for callers
    that have graders rather than feature rows."""
    data = training_data(graders)
    if len(data.y) < MIN_EXAMPLES:
        return None
    return Calibration.fit(
        data.x,
        data.y,
        x_neighbour=data.x_neighbour,
        y_neighbour=data.y_neighbour,
        steps=data.steps,
        steps_neighbour=data.steps_neighbour,
    )


def fit_question_calibration(grader: Grader) -> Calibration | FewShotCalibration | None:
    """What calibrating one question fits from the graded answers its grader holds: the
    full model from ``MIN_EXAMPLES``, else the few-shot map from ``MIN_TO_CALIBRATE``, else
    ``None`` (the default weights). Calibrate, the pilot and erasure's refit all use this,
    so a question keeps the same kind of calibration whichever path refits it."""
    fitted: Calibration | FewShotCalibration | None = fit_calibration([grader])
    if fitted is None:
        fitted = FewShotCalibration.fit_if_enough(grader)
    return fitted


def _stack(rows: Sequence[np.ndarray], width: int) -> np.ndarray:
    return np.vstack(rows) if rows else np.zeros((0, width))
