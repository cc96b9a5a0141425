"""Keyword coverage: which rubric criteria an answer covers, and where.

A phrasing is reduced to the stems of its content words. One stem matches any word with
that stem; several must occur in the same order, with at most ``max_gap`` other content
words between neighbours, so "negotiated quietly and in secret" still matches
"negotiate secretly" while two words at opposite ends of an essay do not.

Polarity must agree: "did not de-escalate" does not cover "de-escalate", while a phrasing
that is itself negated ("not connected") matches only a negated occurrence.

When a rubric has no authored criteria, ``derive_criteria`` builds them from the reference
answers: one per content word, the question's own words demoted, weighted by how
informative the word is in the question's material.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from service.scoring.errors import RubricError
from service.scoring.text import Token, content_stems, content_tokens
from service.scoring.types import CriterionSpec, Span

DEFAULT_MAX_GAP = 2
# Automatic criteria reported per answer (all reference words still count towards coverage):
# the most informative ones, chosen once per rubric by ``Grader``.
MAX_AUTO_CRITERIA = 12
AUTO_ID_PREFIX = "term-"


@dataclass(frozen=True, slots=True)
class CompiledPhrasing:
    text: str
    stems: tuple[str, ...]
    negated: bool = False


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
        tokens = content_tokens(phrasing)
        if not tokens:
            raise RubricError(
                f"{field}.phrasings[{index}]",
                f"{phrasing!r} has no content words (only stop words or punctuation)",
            )
        stems = tuple(token.stem for token in tokens)
        compiled.append(CompiledPhrasing(phrasing, stems, tokens[0].negated))
    return CompiledCriterion(spec, tuple(compiled))


class StemIndex:
    """Where each stem occurs in a token sequence, as bitsets (bit ``i``: token ``i``).

    Built lazily, once per answer: a rubric's phrasings all read the same index, and an
    answer that no multi-word phrasing needs never pays for it.
    """

    __slots__ = ("_masks", "_negated", "_positions", "_tokens")

    def __init__(self, tokens: Sequence[Token]) -> None:
        self._tokens = tokens
        self._positions: dict[str, list[int]] | None = None
        self._negated = 0
        self._masks: dict[str, int] = {}

    def _build(self) -> dict[str, list[int]]:
        positions: dict[str, list[int]] = {}
        negated: list[int] = []
        for index, token in enumerate(self._tokens):
            positions.setdefault(token.stem, []).append(index)
            if token.negated:
                negated.append(index)
        self._negated = _bits(negated)
        self._positions = positions
        return positions

    def mask(self, stem: str) -> int:
        """The tokens with this stem."""
        mask = self._masks.get(stem)
        if mask is None:
            positions = self._positions if self._positions is not None else self._build()
            mask = self._masks[stem] = _bits(positions.get(stem, ()))
        return mask

    def polarity(self, stem: str, negated: bool) -> int:
        """The tokens with this stem and this polarity (negated or not)."""
        mask = self.mask(stem)
        return mask & self._negated if negated else mask & ~self._negated


def _bits(positions: Sequence[int]) -> int:
    """An int with exactly the bits ``positions`` set, in time linear in the last one."""
    if not positions:
        return 0
    if len(positions) == 1:
        return 1 << positions[0]
    packed = bytearray((positions[-1] >> 3) + 1)
    for position in positions:
        packed[position >> 3] |= 1 << (position & 7)
    return int.from_bytes(packed, "little")


def find_phrasing(
    tokens: Sequence[Token],
    stems: Sequence[str],
    *,
    max_gap: int = DEFAULT_MAX_GAP,
    negated: bool = False,
    index: StemIndex | None = None,
) -> tuple[int, ...] | None:
    """Indices into ``tokens`` (content tokens) of the first ordered match of ``stems``
    whose first word has the wanted polarity (``negated``); ``index``: ``StemIndex(tokens)``,
    if the caller has one.

    "First" is the lexicographically smallest tuple of indices: the earliest start, then the
    earliest second word that still allows a complete match, and so on (what a depth-first
    search trying the nearest word first returns). A plain search backtracks exponentially
    on repeated stems ("secret secret ... talks" against an answer of many "secret"s); here
    every word's feasible positions are computed once, back to front, as bitsets, so the
    work is a few big-integer operations per phrasing word: linear in the answer's length.
    """
    if index is None:
        index = StemIndex(tokens)
    reach = max_gap + 1
    # feasible[j]: positions where stems[j] occurs and stems[j + 1:] can still follow.
    feasible = [0] * len(stems)
    following = feasible[-1] = index.mask(stems[-1])
    for position in range(len(stems) - 2, -1, -1):
        if not following:
            return None
        window = 0
        for distance in range(1, reach + 1):
            window |= following >> distance
        following = feasible[position] = index.mask(stems[position]) & window
    starts = feasible[0] & index.polarity(stems[0], negated)
    if not starts:
        return None
    current = (starts & -starts).bit_length() - 1
    found = [current]
    window_mask = (1 << reach) - 1
    for position in range(1, len(stems)):
        # Nonempty: ``current`` is feasible, so some next word lies within reach.
        ahead = (feasible[position] >> (current + 1)) & window_mask
        current += (ahead & -ahead).bit_length()
        found.append(current)
    return tuple(found)


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
    index = StemIndex(tokens)
    for phrasing in criterion.phrasings:
        indices = find_phrasing(tokens, phrasing.stems, negated=phrasing.negated, index=index)
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


@dataclass(frozen=True, slots=True)
class DerivedCriteria:
    """Criteria built from reference answers, and which of them each reference contains."""

    criteria: tuple[CriterionSpec, ...]
    # For every reference answer, the indices into ``criteria`` of its words.
    by_reference: tuple[tuple[int, ...], ...]


def informativeness(documents: Sequence[str]) -> dict[str, float]:
    """Smoothed IDF of every content stem over ``documents`` (the question's material).

    A stem absent from the material gets the largest weight, one in every document the
    smallest (1.0), as in scikit-learn's ``smooth_idf``.
    """
    frequency: dict[str, int] = {}
    for document in documents:
        for word in set(content_stems(document)):
            frequency[word] = frequency.get(word, 0) + 1
    n = len(documents)
    return {word: math.log((1 + n) / (1 + df)) + 1 for word, df in frequency.items()} | {
        "": math.log(1 + n) + 1
    }


def derive_criteria(
    references: Sequence[str], prompt: str, material: Sequence[str]
) -> DerivedCriteria:
    """One criterion per content word of the reference answers (with its polarity).

    Words of the prompt are demoted: an answer earns nothing for repeating the question
    (unless a reference consists of nothing else). Weights are IDF over ``material`` (the
    prompt, background lines and references), so words that the whole topic uses earn less
    than the words that make this answer right.
    """
    demoted = frozenset(content_stems(prompt))
    idf = informativeness([prompt, *material])
    unseen = idf[""]
    keys: list[tuple[str, bool]] = []
    surface: dict[tuple[str, bool], str] = {}
    # Index of every key in ``keys``: looked up, not searched, so that references with
    # thousands of words compile in linear time.
    position: dict[tuple[str, bool], int] = {}
    by_reference: list[tuple[int, ...]] = []
    for reference in references:
        tokens = [t for t in content_tokens(reference) if len(t.text) > 1 or t.text.isdigit()]
        kept = [t for t in tokens if t.stem not in demoted] or tokens
        indices: dict[int, None] = {}  # an ordered set
        for token in kept:
            key = (token.stem, token.negated)
            index = position.get(key)
            if index is None:
                surface[key] = f"not {token.text}" if token.negated else token.text
                index = position[key] = len(keys)
                keys.append(key)
            indices[index] = None
        by_reference.append(tuple(indices))
    criteria = tuple(
        CriterionSpec(
            id=f"{AUTO_ID_PREFIX}{index + 1}",
            description=f"Mention \u201c{surface[key]}\u201d (a key term of the model answer)",
            weight=round(idf.get(key[0], unseen), 4),
            phrasings=(surface[key],),
            feedback_hit=f"You used the key term \u201c{surface[key]}\u201d.",
            feedback_miss=(
                f"The model answer uses \u201c{surface[key]}\u201d; "
                "say how this idea fits your answer."
            ),
        )
        for index, key in enumerate(keys)
    )
    return DerivedCriteria(criteria, tuple(by_reference))


def reference_coverage(
    matches: Sequence[CriterionMatch], by_reference: Sequence[Sequence[int]]
) -> float:
    """Weighted share of the words of the best-covered reference answer, in 0..1."""
    best = 0.0
    for indices in by_reference:
        total = sum(matches[i].criterion.spec.weight for i in indices)
        if total > 0:
            met = sum(matches[i].criterion.spec.weight for i in indices if matches[i].met)
            best = max(best, met / total)
    return best
