"""Small view models the templates need beyond the presenters' schemas: pure functions of
presented data, with no rule of their own (what a student may see is decided by the
presenters; this only lays it out)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A run of the answer's text and the numbers (1-based) of the ideas it earned."""

    text: str
    marks: tuple[int, ...] = ()


def highlight(answer: str, spans_by_mark: Sequence[Sequence[tuple[int, int]]]) -> list[Segment]:
    """Cut ``answer`` at every span edge; each piece lists the ideas whose spans cover it.

    Spans may overlap (two ideas earned by the same words) or fall outside the answer (a
    result of an older answer text): they are clipped, never trusted.
    """
    size = len(answer)
    edges = {0, size}
    clipped: list[list[tuple[int, int]]] = []
    for spans in spans_by_mark:
        kept = []
        for start, end in spans:
            start, end = max(0, min(start, size)), max(0, min(end, size))
            if end > start:
                kept.append((start, end))
                edges.update((start, end))
        clipped.append(kept)
    cuts = sorted(edges)
    segments: list[Segment] = []
    for left, right in itertools.pairwise(cuts):
        marks = tuple(
            number
            for number, spans in enumerate(clipped, start=1)
            if any(start <= left and right <= end for start, end in spans)
        )
        text = answer[left:right]
        if segments and segments[-1].marks == marks:
            segments[-1] = Segment(segments[-1].text + text, marks)
        else:
            segments.append(Segment(text, marks))
    return segments


@dataclass(frozen=True)
class Bar:
    """A score bar: the filled share as an SVG width (0..100), never a style attribute, so
    the page's CSP needs no inline styles."""

    points: float
    max_points: float

    @property
    def share(self) -> float:
        if self.max_points <= 0:
            return 0.0
        return max(0.0, min(1.0, self.points / self.max_points))

    @property
    def width(self) -> float:
        return round(self.share * 100, 2)


@dataclass(frozen=True)
class Histogram:
    """Bars of a distribution laid out for an inline SVG chart."""

    bars: list[tuple[str, int, float, float]]  # label, count, x, height (0..100)
    bar_width: float
    peak: int


def histogram(counts: Sequence[tuple[str, int]]) -> Histogram:
    peak = max((count for _, count in counts), default=0)
    slots = max(len(counts), 1)
    width = 100.0 / slots
    bars = [
        (label, count, round(index * width, 3), round(100.0 * count / peak, 3) if peak else 0.0)
        for index, (label, count) in enumerate(counts)
    ]
    return Histogram(bars=bars, bar_width=round(width, 3), peak=peak)
