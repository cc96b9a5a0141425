"""The grader: compile a rubric once, then score answers with it.

``Grader(rubric)`` validates and fits everything that does not depend on the answer, so that
``grade(answer)`` is cheap, pure and deterministic: the same rubric and answer always give
the same ``ScoreBreakdown``, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Sequence

import numpy as np

from service.scoring import limits
from service.scoring.advisories import (
    ADVISORY_MESSAGES,
    ECHOES_FEEDBACK,
    Advisory,
    AnswerContext,
    FeedbackEcho,
    apply_caps,
    assess,
)
from service.scoring.calibration import Calibration
from service.scoring.errors import RubricError, ScoringError
from service.scoring.fewshot import FewShotCalibration
from service.scoring.keywords import (
    MAX_AUTO_CRITERIA,
    CompiledCriterion,
    CompiledPhrasing,
    CriterionMatch,
    StemIndex,
    compile_criterion,
    coverage,
    derive_criteria,
    find_phrasing,
    match_criterion,
)
from service.scoring.similarity import (
    CharSimilarityScorer,
    NeighbourIndex,
    Neighbours,
    SimilarityScorer,
)
from service.scoring.spelling import SpellingCorrector
from service.scoring.text import Token, content_stems, content_tokens, tokenize
from service.scoring.types import (
    CriterionResult,
    GradedAnswer,
    RubricSpec,
    ScoreBreakdown,
    Span,
)

# Bump whenever any output of ``Grader.grade`` can change for the same rubric and answer:
# stored results carry it, so old and new scores can always be told apart.
ENGINE_VERSION = "2.3.0"

_WEIGHT_TOLERANCE = 1e-6

# Feedback for criteria derived from reference answers. Such a criterion is one word of the
# model answer, so any text that named it would hand the answer key to the student: these
# say only that a key term was used or is missing. The student view (see the submissions
# presenter) reports derived criteria in aggregate with the two templates after them.
DERIVED_FEEDBACK_HIT = "You used one of the key terms of a full answer."
DERIVED_FEEDBACK_MISS = "A full answer uses a key term that your answer does not have yet."
DERIVED_COVERED_TEMPLATE = "Your answer uses {met} of the {total} key ideas of a full answer."
DERIVED_MISSING_TEMPLATE = (
    "Your answer is still missing {missing} of the {total} key ideas of a full answer."
)
_SUMMARY_HEAD = (
    "You scored {points:g} out of {max_points:g} and covered {met} of {total} key ideas."
)
_SUMMARY_TAIL = "Read the feedback on the ideas you missed to see what to add."

# Question-independent components, the inputs of a calibration model (all roughly 0..1).
BASE_FEATURES: tuple[str, ...] = (
    "keyword_coverage",  # weighted share of the rubric's criteria met
    "term_coverage",  # weighted share of the best-covered reference answer's key words
    "similarity",  # word TF-IDF similarity to the nearest reference (square-root scale)
    "char_similarity",  # character n-gram TF-IDF similarity to the nearest reference
    "length_ratio",  # log ratio of content words, answer vs. mean reference (clipped)
    "precision",  # share of the answer's words found in the question's material
    "question_overlap",  # share of the answer's words that only repeat the prompt
)
# Read only where the question has graded answers of its own.
NEIGHBOUR_FEATURES: tuple[str, ...] = (
    *BASE_FEATURES,
    "neighbour_mean",  # similarity-weighted mean score of the nearest graded answers
    "neighbour_top",  # score of the nearest graded answer
    "neighbour_similarity",  # similarity to it
    "neighbour_char_mean",  # like neighbour_mean, with character n-gram similarity
    "neighbour_high_similarity",  # similarity to the nearest above-average graded answer
    "neighbour_low_similarity",  # similarity to the nearest below-average graded answer
    "graded_mean",  # mean score of the question's graded answers
    "similarity_percentile",  # rank of the similarity among the graded answers'
    "coverage_percentile",  # rank of the term coverage among the graded answers'
)
# A question needs this many graded answers before its neighbours are trusted.
MIN_NEIGHBOURS = 5
# Below this confidence a score is flagged for an instructor to review.
REVIEW_THRESHOLD = 0.4


def similarity_to_unit(cosine: float) -> float:
    """Map TF-IDF cosine to the similarity component (reference -> 1, unrelated -> 0).

    Two independently written correct answers rarely share more than half their weighted
    vocabulary, so raw cosine punishes a faithful paraphrase far more than a teacher would.
    The square root is monotone, keeps both ends fixed and lifts the middle (0.25 -> 0.5).
    """
    return math.sqrt(min(1.0, max(0.0, cosine)))


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
    as the training data of ``Calibration.fit``). ``calibration``: a fitted model to use
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
        _validate(rubric, has_graded=bool(graded), graded=graded)
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
        self._term_matcher = _Matcher(self._terms)
        self._criteria_matcher = (
            self._term_matcher if self.auto_criteria else _Matcher(self.criteria)
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
            self._check_reference_covers_criteria()
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
        self._neighbours: NeighbourIndex | None = None
        self._graded_base = np.zeros((0, len(BASE_FEATURES)))
        if self.graded:
            scores = [_fraction(g.points, rubric.max_points) for g in self.graded]
            self._neighbours = NeighbourIndex(demoted=self._demoted).fit(
                [g.answer for g in self.graded], scores, material
            )
            self._graded_base = np.array(
                [self._base_vector(self._measure_base(g.answer)[1]) for g in self.graded]
            )
            self._graded_scores = np.asarray(scores, dtype=np.float64)
            self._sorted_similarity = np.sort(self._graded_base[:, 2])
            self._sorted_coverage = np.sort(self._graded_base[:, 1])

    @property
    def has_neighbours(self) -> bool:
        return len(self.graded) >= MIN_NEIGHBOURS

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
        default_raw = self._default_raw(features)
        model = "default"
        raw = default_raw
        calibration = self.calibration
        if isinstance(calibration, FewShotCalibration):
            # Few teacher grades: a shrunk map of the default blend (see ``fewshot``).
            model = "calibrated"
            raw = calibration.predict(
                default_raw,
                measured.neighbours.mean if measured.neighbours is not None else None,
            )
        elif calibration is not None:
            model = "calibrated"
            if calibration.neighbour is not None and measured.neighbours is not None:
                vector = np.array([[features[name] for name in NEIGHBOUR_FEATURES]])
                raw = float(calibration.neighbour.predict(vector)[0])
            else:
                vector = np.array([[features[name] for name in BASE_FEATURES]])
                raw = float(calibration.base.predict(vector)[0])
            # A validated calibration predicts within 0..1; this holds whatever it says.
            raw = _unit(raw, "calibrated score")
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
        confidence = _confidence(
            raw, (features["keyword_coverage"], similarity), measured.neighbours, rubric
        )
        if self.auto_criteria:
            matches = measured.matches
            counts = (sum(m.phrasing is not None for m in matches), len(matches))
            results = self._term_matcher.results_at(matches, self._reported)
        else:
            results = self._criteria_matcher.results(measured.matches)
            counts = (sum(r.met for r in results), len(results))
        return ScoreBreakdown(
            points=points,
            max_points=rubric.max_points,
            score=round(points / rubric.max_points, 4),
            raw=round(raw, 4),
            keyword_coverage=round(_unit(features["keyword_coverage"], "keyword coverage"), 4),
            similarity=round(_unit(similarity, "similarity"), 4),
            criteria=results,
            summary=_summary(counts, points, rubric.max_points),
            model=model,
            confidence=confidence,
            needs_review=confidence < REVIEW_THRESHOLD
            or any(advisory.needs_review for advisory in advisories),
            neighbour_score=(
                round(measured.neighbours.mean, 4) if measured.neighbours is not None else None
            ),
            components=tuple((name, round(features[name], 4)) for name in NEIGHBOUR_FEATURES),
            advisories=advisories,
        )

    def fewshot_rows(self) -> tuple[list[float], list[float] | None, list[float]]:
        """Per graded answer, with itself left out of its neighbours: the default blend, the
        neighbours' mean score (``None`` for all when too few are left to be neighbours)
        and the teacher's score, all 0..1: the data of ``FewShotCalibration.fit``."""
        measured = [self._measure(g.answer, exclude=i) for i, g in enumerate(self.graded)]
        machine = [self._default_raw(m.features) for m in measured]
        neighbour = (
            [m.neighbours.mean for m in measured if m.neighbours is not None]
            if measured and all(m.neighbours is not None for m in measured)
            else None
        )
        y = [_fraction(g.points, self.rubric.max_points) for g in self.graded]
        return machine, neighbour, y

    def _default_raw(self, features: dict[str, float]) -> float:
        """The rubric's fixed blend of keyword coverage and similarity, 0..1."""
        similarity = (features["similarity"] + features["char_similarity"]) / 2
        blend = (
            self.rubric.keyword_weight * features["keyword_coverage"]
            + self.rubric.similarity_weight * similarity
        )
        return min(1.0, max(0.0, blend))

    def training_rows(self) -> tuple[np.ndarray, np.ndarray, list[float], bool]:
        """Features of every graded answer with itself left out of its neighbours: base
        rows, full rows, target scores (0..1) and whether neighbour features are real."""
        measured = [self._measure(g.answer, exclude=i).features for i, g in enumerate(self.graded)]
        full = np.array(
            [[features[name] for name in NEIGHBOUR_FEATURES] for features in measured]
        ).reshape(len(self.graded), len(NEIGHBOUR_FEATURES))
        y = [_fraction(g.points, self.rubric.max_points) for g in self.graded]
        has_neighbours = len(self.graded) - 1 >= MIN_NEIGHBOURS
        return full[:, : len(BASE_FEATURES)], full, y, has_neighbours

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
        stems = list(map(_STEM, content))
        found = _Found.of(content)
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
        known = self._speller.known_stems
        demoted = self._demoted
        n = len(stems)
        own = [s for s in stems if s not in demoted]
        features = {
            "keyword_coverage": keyword_coverage,
            "term_coverage": term_coverage,
            "similarity": similarity,
            "char_similarity": char_similarity,
            "length_ratio": (
                max(-3.0, min(3.0, math.log1p(n) - math.log1p(self._reference_length)))
                if self._reference_length
                else 0.0
            ),
            "precision": sum(map(known.__contains__, own)) / len(own) if own else 0.0,
            "question_overlap": (n - len(own)) / n if n else 0.0,
        }
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
            neighbours = index.query(answer, raw_stems, exclude=exclude)
            scores = self._graded_scores
            graded_mean = (
                float((scores.sum() - scores[exclude]) / graded_count)
                if exclude is not None
                else float(scores.mean())
            )
            features |= {
                "neighbour_mean": neighbours.mean,
                "neighbour_top": neighbours.top,
                "neighbour_similarity": neighbours.similarity,
                "neighbour_char_mean": neighbours.char_mean,
                "neighbour_high_similarity": neighbours.high_similarity,
                "neighbour_low_similarity": neighbours.low_similarity,
                "graded_mean": graded_mean,
                "similarity_percentile": _percentile(
                    self._sorted_similarity, features["similarity"]
                ),
                "coverage_percentile": _percentile(
                    self._sorted_coverage, features["term_coverage"]
                ),
            }
        else:
            features |= dict.fromkeys(NEIGHBOUR_FEATURES[len(BASE_FEATURES) :], 0.0)
        return _Measured(matches, features, neighbours)

    def _base_vector(self, features: dict[str, float]) -> list[float]:
        return [features[name] for name in BASE_FEATURES]

    def _check_reference_covers_criteria(self) -> None:
        """The first reference answer must meet every criterion, or it could not score full
        marks: a criterion none of whose phrasings occurs in it is a rubric mistake."""
        reference = self.rubric.reference_answers[0]
        tokens = content_tokens(reference)
        for index, criterion in enumerate(self.criteria):
            if self.auto_criteria:
                break
            if not match_criterion(criterion, tokens, reference).met:
                raise RubricError(
                    f"criteria[{index}].phrasings",
                    f"criterion {criterion.spec.id!r} is not covered by reference_answers[0]: "
                    "none of its phrasings occurs there, so the reference answer could not "
                    "score full marks",
                )


@dataclasses.dataclass(frozen=True, slots=True)
class _Found:
    """What the content tokens of one answer contain: their stems, and the position of the
    first token of every (stem, negated) pair (where a match of a phrasing may start)."""

    stems: frozenset[str]
    first: dict[tuple[str, bool], int]
    # Positions of every stem, for phrasings of several words (built on first use).
    index: StemIndex

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> _Found:
        stems = list(map(_STEM, tokens))
        keys = list(zip(stems, map(_NEGATED, tokens), strict=True))
        # Built back to front, so the earliest position of a repeated key is the one kept.
        first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        return cls(frozenset(stems), first, StemIndex(tokens))


_STEM = operator.attrgetter("stem")
_NEGATED = operator.attrgetter("negated")


class _Matcher:
    """``match_criterion`` for every criterion of a rubric, without scanning the answer once
    per phrasing: same matches, in the same order.

    A phrasing matches only where its first stem occurs, so only criteria with a phrasing
    whose first stem is among the answer's are tried; the rest get their precomputed
    "not met" match. A one-word phrasing matches at the first token with its stem and
    polarity, found by a lookup; longer ones go through ``find_phrasing``, exactly like
    ``match_criterion`` (``tests/scoring/test_fast_path.py`` compares the two).
    """

    def __init__(self, criteria: Sequence[CompiledCriterion]) -> None:
        self.criteria = tuple(criteria)
        self.unmet = tuple(CriterionMatch(c, None, ()) for c in self.criteria)
        self.unmet_results = tuple(_criterion_result(match) for match in self.unmet)
        by_first_stem: dict[str, list[int]] = {}
        for index, criterion in enumerate(self.criteria):
            for phrasing in criterion.phrasings:
                indices = by_first_stem.setdefault(phrasing.stems[0], [])
                if index not in indices:
                    indices.append(index)
        self.by_first_stem = {stem: tuple(indices) for stem, indices in by_first_stem.items()}
        self.phrasings = tuple(
            tuple((p, p.stems[0], p.negated, frozenset(p.stems)) for p in criterion.phrasings)
            for criterion in self.criteria
        )

    def match(
        self, tokens: Sequence[Token], answer: str, found: _Found
    ) -> tuple[CriterionMatch, ...]:
        """``tuple(match_criterion(c, tokens, answer) for c in criteria)``; ``found`` is
        ``_Found.of(tokens)``."""
        candidates = self._candidates(found)
        if not candidates:
            return self.unmet
        matches = list(self.unmet)
        for index in candidates:
            where, phrasing = self._find(index, tokens, found)
            if phrasing is not None:
                criterion = self.criteria[index]
                spans = tuple(
                    Span(tokens[i].start, tokens[i].end, answer[tokens[i].start : tokens[i].end])
                    for i in where
                )
                matches[index] = CriterionMatch(criterion, phrasing, spans)
        return tuple(matches)

    def met(self, tokens: Sequence[Token], found: _Found) -> list[bool]:
        """Which criteria ``match`` would find met (without building the matches)."""
        met = [False] * len(self.criteria)
        for index in self._candidates(found):
            met[index] = self._find(index, tokens, found)[1] is not None
        return met

    def _candidates(self, found: _Found) -> set[int]:
        """Criteria with a phrasing whose first stem occurs (the only ones that can match)."""
        get = self.by_first_stem.get
        candidates: set[int] = set()
        for stem in found.stems:
            indices = get(stem)
            if indices is not None:
                candidates.update(indices)
        return candidates

    def _find(
        self, index: int, tokens: Sequence[Token], found: _Found
    ) -> tuple[tuple[int, ...], CompiledPhrasing | None]:
        """Token positions of the first phrasing of criterion ``index`` that occurs, and
        that phrasing (``(), None`` if none does), as ``match_criterion`` finds them."""
        first = found.first
        for phrasing, head, negated, needed in self.phrasings[index]:
            position = first.get((head, negated))
            if position is None:
                continue
            if len(phrasing.stems) == 1:
                return (position,), phrasing
            if needed <= found.stems:  # find_phrasing fails unless every stem occurs
                where = find_phrasing(tokens, phrasing.stems, negated=negated, index=found.index)
                if where is not None:
                    return where, phrasing
        return (), None

    def results_at(
        self, matches: Sequence[CriterionMatch], indices: Sequence[int]
    ) -> tuple[CriterionResult, ...]:
        """``results(matches)`` at ``indices`` only."""
        unmet = self.unmet_results
        return tuple(_criterion_result(matches[i]) if matches[i].met else unmet[i] for i in indices)

    def results(self, matches: Sequence[CriterionMatch]) -> tuple[CriterionResult, ...]:
        """``_criterion_result`` of each match (of these criteria, in order)."""
        unmet = self.unmet_results
        return tuple(
            _criterion_result(match) if match.met else unmet[index]
            for index, match in enumerate(matches)
        )


def _unit(value: float, what: str) -> float:
    """``value`` clamped to 0..1 (unchanged when inside); a non-finite one is an engine
    error, never a stored score."""
    if not math.isfinite(value):
        raise ScoringError(f"{what} is not a finite number ({value!r})")
    return min(1.0, max(0.0, value))


def _fraction(points: float, max_points: float) -> float:
    return min(1.0, max(0.0, points / max_points))


def _percentile(sorted_values: np.ndarray, value: float) -> float:
    """Mid-rank of ``value`` among ``sorted_values``, in 0..1."""
    if sorted_values.size == 0:
        return 0.0
    low = np.searchsorted(sorted_values, value, side="left")
    high = np.searchsorted(sorted_values, value, side="right")
    return float((low + high) / 2 / sorted_values.size)


def _confidence(
    raw: float, components: tuple[float, ...], neighbours: Neighbours | None, rubric: RubricSpec
) -> float:
    """How sure the score is, in 0..1: half from the agreement of independent estimates
    (the score, keyword coverage, similarity and, where there are any, the graded
    neighbours), half from the distance to the nearest rounding boundary (a score just
    beside one could easily have gone either way).
    """
    estimates = [raw, *components]
    if neighbours is not None:
        estimates.append(neighbours.mean)
    agreement = 1.0 - (max(estimates) - min(estimates))
    position = raw * rubric.max_points / rubric.score_step
    margin = 2 * abs(position - math.floor(position) - 0.5)
    return round(max(0.0, min(1.0, 0.5 * agreement + 0.5 * margin)), 4)


def _validate(
    rubric: RubricSpec, *, has_graded: bool = False, graded: Sequence[GradedAnswer] = ()
) -> None:
    _validate_limits(rubric, graded)
    if not (math.isfinite(rubric.max_points) and rubric.max_points > 0):
        raise RubricError("max_points", "must be greater than 0")
    if not (
        0 < rubric.score_step <= rubric.max_points
        and math.isfinite(rubric.max_points / rubric.score_step)
    ):
        raise RubricError("score_step", "must be greater than 0 and at most max_points")
    if not math.isclose(
        rubric.max_points / rubric.score_step, round(rubric.max_points / rubric.score_step)
    ):
        raise RubricError("score_step", "max_points must be a whole number of steps")
    if rubric.keyword_weight < 0 or rubric.similarity_weight < 0:
        raise RubricError("weights", "weights must not be negative")
    if abs(rubric.keyword_weight + rubric.similarity_weight - 1) > _WEIGHT_TOLERANCE:
        raise RubricError("weights", "keywords and similarity must sum to 1")
    if not all(r.strip() for r in rubric.reference_answers) or not (
        rubric.reference_answers or has_graded
    ):
        raise RubricError(
            "reference_answers",
            "at least one non-empty reference answer is required (or graded answers)",
        )
    seen: set[str] = set()
    for index, criterion in enumerate(rubric.criteria):
        if criterion.id in seen:
            raise RubricError(f"criteria[{index}].id", f"duplicate criterion id {criterion.id!r}")
        seen.add(criterion.id)
        if not (math.isfinite(criterion.weight) and criterion.weight > 0):
            raise RubricError(f"criteria[{index}].weight", "must be greater than 0")


def _too_long(field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise RubricError(field, f"{len(text)} characters; at most {limit} are allowed")


def _too_many(field: str, items: Sequence[object], limit: int, what: str) -> None:
    if len(items) > limit:
        raise RubricError(field, f"{len(items)} {what}; at most {limit} are allowed")


def _validate_limits(rubric: RubricSpec, graded: Sequence[GradedAnswer]) -> None:
    """The documented limits (``service.scoring.limits``), checked before anything is
    compiled, so that no rubric makes compiling or grading take unbounded time."""
    _too_long("prompt", rubric.prompt, limits.MAX_PROMPT_CHARS)
    _too_many(
        "reference_answers", rubric.reference_answers, limits.MAX_REFERENCE_ANSWERS, "answers"
    )
    for index, reference in enumerate(rubric.reference_answers):
        _too_long(f"reference_answers[{index}]", reference, limits.MAX_REFERENCE_CHARS)
    background = sum(map(len, rubric.background)) + max(0, len(rubric.background) - 1)
    if background > limits.MAX_BACKGROUND_CHARS:
        raise RubricError(
            "background",
            f"{background} characters; at most {limits.MAX_BACKGROUND_CHARS} are allowed",
        )
    _too_many("criteria", rubric.criteria, limits.MAX_CRITERIA, "criteria")
    for index, criterion in enumerate(rubric.criteria):
        field = f"criteria[{index}]"
        _too_long(f"{field}.description", criterion.description, limits.MAX_DESCRIPTION_CHARS)
        _too_long(f"{field}.feedback.hit", criterion.feedback_hit, limits.MAX_FEEDBACK_CHARS)
        _too_long(f"{field}.feedback.miss", criterion.feedback_miss, limits.MAX_FEEDBACK_CHARS)
        _too_many(
            f"{field}.phrasings",
            criterion.phrasings,
            limits.MAX_PHRASINGS_PER_CRITERION,
            "phrasings",
        )
        for number, phrasing in enumerate(criterion.phrasings):
            _too_long(f"{field}.phrasings[{number}]", phrasing, limits.MAX_PHRASING_CHARS)
            words = len(tokenize(phrasing))
            if words > limits.MAX_PHRASING_WORDS:
                raise RubricError(
                    f"{field}.phrasings[{number}]",
                    f"{words} words; at most {limits.MAX_PHRASING_WORDS} are allowed",
                )
    _too_many("graded_answers", graded, limits.MAX_GRADED_ANSWERS, "graded answers")
    total = 0
    for index, answer in enumerate(graded):
        _too_long(f"graded_answers[{index}].answer", answer.answer, limits.MAX_GRADED_ANSWER_CHARS)
        if not (math.isfinite(answer.points) and 0 <= answer.points <= rubric.max_points):
            raise RubricError(f"graded_answers[{index}].points", "must be within 0..max_points")
        total += len(answer.answer)
    if total > limits.MAX_GRADED_TOTAL_CHARS:
        raise RubricError(
            "graded_answers",
            f"{total} characters in all; at most {limits.MAX_GRADED_TOTAL_CHARS} are allowed",
        )


def _criterion_result(match: CriterionMatch) -> CriterionResult:
    spec = match.criterion.spec
    return CriterionResult(
        id=spec.id,
        description=spec.description,
        weight=spec.weight,
        met=match.met,
        matched_phrasing=match.phrasing.text if match.phrasing else None,
        spans=match.spans,
        feedback=spec.feedback_hit if match.met else spec.feedback_miss,
    )


def _summary(counts: tuple[int, int], points: float, max_points: float) -> str:
    """``counts``: criteria met and criteria in all (every derived term, reported or not)."""
    met, total = counts
    head = _SUMMARY_HEAD.format(points=points, max_points=max_points, met=met, total=total)
    if met == total:
        return head
    return f"{head} {_SUMMARY_TAIL}"


def feedback_texts(criteria: Sequence[CompiledCriterion]) -> list[str]:
    """Every text the engine or the student view can show about an answer to a question
    with these criteria: hit and miss feedback, the derived-criteria texts, the summary
    and every advisory message (numbers in templates are placeholders; echo matching skips
    numbers)."""
    return [
        *(text for c in criteria for text in (c.spec.feedback_hit, c.spec.feedback_miss)),
        DERIVED_FEEDBACK_HIT,
        DERIVED_FEEDBACK_MISS,
        DERIVED_COVERED_TEMPLATE.format(met=0, total=0),
        DERIVED_MISSING_TEMPLATE.format(missing=0, total=0),
        f"{_SUMMARY_HEAD.format(points=0, max_points=0, met=0, total=0)} {_SUMMARY_TAIL}",
        *ADVISORY_MESSAGES,
    ]
