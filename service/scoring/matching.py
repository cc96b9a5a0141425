"""Which criteria an answer meets: every criterion of a rubric matched in one pass.

``Matcher`` gives exactly what ``keywords.match_criterion`` gives for each criterion, in
the same order, without scanning the answer once per phrasing (grading cost stays linear
in the answer whatever the number of criteria).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

from service.scoring.feedback import criterion_result
from service.scoring.keywords import (
    CompiledCriterion,
    CompiledPhrasing,
    CriterionMatch,
    StemIndex,
    find_phrasing,
)
from service.scoring.text import Token
from service.scoring.types import CriterionResult, Span


@dataclass(frozen=True, slots=True)
class Found:
    """What the content tokens of one answer contain: their stems, and the position of the
    first token of every (stem, negated) pair (where a match of a phrasing may start)."""

    stems: frozenset[str]
    first: dict[tuple[str, bool], int]
    # Positions of every stem, for phrasings of several words (built on first use).
    index: StemIndex

    @classmethod
    def of(cls, tokens: Sequence[Token]) -> Found:
        stems = list(map(_STEM, tokens))
        keys = list(zip(stems, map(_NEGATED, tokens), strict=True))
        # Built back to front, so the earliest position of a repeated key is the one kept.
        first = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        return cls(frozenset(stems), first, StemIndex(tokens))


_STEM = operator.attrgetter("stem")
_NEGATED = operator.attrgetter("negated")


class Matcher:
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
        self.unmet_results = tuple(criterion_result(match) for match in self.unmet)
        by_first_stem: dict[str, list[int]] = {}
        for index, criterion in enumerate(self.criteria):
            for phrasing in criterion.phrasings:
                indices = by_first_stem.setdefault(phrasing.stems[0], [])
                if index not in indices:
                    indices.append(index)
        self.by_first_stem = {stem: tuple(indices) for stem, indices in by_first_stem.items()}
        # Per phrasing: the (first stem, polarity) key of ``Found.first``, built once here
        # rather than per answer, whether it is one word, and the stems it needs.
        self.phrasings = tuple(
            tuple(
                (p, (p.stems[0], p.negated), len(p.stems) == 1, frozenset(p.stems))
                for p in criterion.phrasings
            )
            for criterion in self.criteria
        )

    def match(
        self, tokens: Sequence[Token], answer: str, found: Found
    ) -> tuple[CriterionMatch, ...]:
        """``tuple(match_criterion(c, tokens, answer) for c in criteria)``; ``found`` is
        ``Found.of(tokens)``."""
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

    def met(self, tokens: Sequence[Token], found: Found) -> list[bool]:
        """Which criteria ``match`` would find met (without building the matches)."""
        met = [False] * len(self.criteria)
        for index in self._candidates(found):
            met[index] = self._find(index, tokens, found)[1] is not None
        return met

    def _candidates(self, found: Found) -> set[int]:
        """Criteria with a phrasing whose first stem occurs (the only ones that can match)."""
        get = self.by_first_stem.get
        candidates: set[int] = set()
        for stem in found.stems:
            indices = get(stem)
            if indices is not None:
                candidates.update(indices)
        return candidates

    def _find(
        self, index: int, tokens: Sequence[Token], found: Found
    ) -> tuple[tuple[int, ...], CompiledPhrasing | None]:
        """Token positions of the first phrasing of criterion ``index`` that occurs, and
        that phrasing (``(), None`` if none does), as ``match_criterion`` finds them."""
        first = found.first
        for phrasing, key, single, needed in self.phrasings[index]:
            position = first.get(key)
            if position is None:
                continue
            if single:
                return (position,), phrasing
            if needed <= found.stems:  # find_phrasing fails unless every stem occurs
                where = find_phrasing(
                    tokens, phrasing.stems, negated=phrasing.negated, index=found.index
                )
                if where is not None:
                    return where, phrasing
        return (), None

    def results_at(
        self, matches: Sequence[CriterionMatch], indices: Sequence[int]
    ) -> tuple[CriterionResult, ...]:
        """``results(matches)`` at ``indices`` only."""
        unmet = self.unmet_results
        return tuple(criterion_result(matches[i]) if matches[i].met else unmet[i] for i in indices)

    def results(self, matches: Sequence[CriterionMatch]) -> tuple[CriterionResult, ...]:
        """``criterion_result`` of each match (of these criteria, in order)."""
        unmet = self.unmet_results
        return tuple(
            criterion_result(match) if match.met else unmet[index]
            for index, match in enumerate(matches)
        )
