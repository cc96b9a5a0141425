"""Keyword coverage: which rubric criteria an answer covers, and where.

A phrasing is reduced to the stems of its content words. One stem matches any word with
that stem; several must occur in the same order, with at most ``max_gap`` other content
words between neighbours, so "negotiated quietly and in secret" still matches
"negotiate secretly" while two words at opposite ends of an essay do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.scoring.errors import RubricError
from service.scoring.text import Token, content_stems
from service.scoring.types import CriterionSpec, Span

DEFAULT_MAX_GAP = 2


@dataclass(frozen=True, slots=True)
class CompiledPhrasing:
    text: str
    stems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledCriterion:
    spec: CriterionSpec
    phrasings: tuple[CompiledPhrasing, ...]


def compile_criterion(spec: CriterionSpec, *, field: str) -> CompiledCriterion:
    """Stem every phrasing once; a phrasing of stop words only could never match."""
    if not spec.phrasings:
        raise RubricError(f"{field}.phrasings", "at least one phrasing is required")
    compiled = []
    for index, phrasing in enumerate(spec.phrasings):
        stems = tuple(content_stems(phrasing))
        if not stems:
            raise RubricError(
                f"{field}.phrasings[{index}]",
                f"{phrasing!r} has no content words (only stop words or punctuation)",
            )
        compiled.append(CompiledPhrasing(phrasing, stems))
    return CompiledCriterion(spec, tuple(compiled))


def find_phrasing(
    tokens: Sequence[Token], stems: Sequence[str], *, max_gap: int = DEFAULT_MAX_GAP
) -> tuple[int, ...] | None:
    """Indices into ``tokens`` (content tokens) of the first ordered match of ``stems``."""

    def extend(matched: list[int]) -> list[int] | None:
        if len(matched) == len(stems):
            return matched
        wanted = stems[len(matched)]
        last = matched[-1]
        for index in range(last + 1, min(len(tokens), last + max_gap + 2)):
            if tokens[index].stem == wanted:
                found = extend([*matched, index])
                if found is not None:
                    return found
        return None

    for start, token in enumerate(tokens):
        if token.stem == stems[0]:
            found = extend([start])
            if found is not None:
                return tuple(found)
    return None


@dataclass(frozen=True, slots=True)
class CriterionMatch:
    criterion: CompiledCriterion
    phrasing: CompiledPhrasing | None
    spans: tuple[Span, ...]

    @property
    def met(self) -> bool:
        return self.phrasing is not None


def match_criterion(
    criterion: CompiledCriterion, tokens: Sequence[Token], answer: str
) -> CriterionMatch:
    """The first phrasing (in rubric order) that occurs in the answer, with its spans."""
    for phrasing in criterion.phrasings:
        indices = find_phrasing(tokens, phrasing.stems)
        if indices is not None:
            spans = tuple(
                Span(tokens[i].start, tokens[i].end, answer[tokens[i].start : tokens[i].end])
                for i in indices
            )
            return CriterionMatch(criterion, phrasing, spans)
    return CriterionMatch(criterion, None, ())


def coverage(matches: Sequence[CriterionMatch]) -> float:
    """Weighted share of criteria met, in 0..1."""
    total = sum(match.criterion.spec.weight for match in matches)
    if total <= 0:
        return 0.0
    return sum(match.criterion.spec.weight for match in matches if match.met) / total
