"""Could a zero-shot question get a better confidence than the rule? Alternatives, held out.

    python -m service.evaluation.zero_shot_confidence FILE[@SPLIT] [FILE[@SPLIT] ...] [--json]

Every dataset is scored zero-shot (no calibration, no graded answers: a new question, the state
a pilot starts from), exactly as ``python -m service.evaluate FILE [--split SPLIT]`` does, and
the service's confidence (the rule: agreement of the estimates and distance to the rounding
boundary, ``rule_confidence``) is compared with alternatives that need no grades, each ranked by
the same held-out figures as ``python -m service.evaluation.confidence`` (``ratio`` of the error
of the 20 % least confident answers to the rest's, ``aurc``, the error kept after 20 % go to a
teacher). Nothing here changes a score or the service's confidence; it is the evidence for
keeping or replacing the rule.

The alternatives come from the signals the calibrated error profile reads
(``confidence.signal_rows``: position 4p(1-p), closeness to a rounding boundary, range of the
score, keyword coverage and similarity), combined without fitted weights:

* ``position`` and ``disagreement`` alone; their mean; the mean of all three signals; their
  maximum (a score is doubtful when *either* says so);
* ``uniform``: the expected absolute error of the reported score if the teacher's score were
  anywhere, uniformly, between the lowest and the highest of the three estimates;
* ``profile``: the error-profile model itself (ridge + isotonic over the three signals), fitted
  on the zero-shot errors of the *other* datasets given on the command line only
  (leave-one-dataset-out): would a profile shipped with the package transfer to a new subject?

Features are scale-free (shares of the maximum points), so datasets of different scales pool.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service import evaluate as ev
from service.evaluation.confidence import LOW_SHARE, ranking
from service.scoring.confidence import BASE_SIGNALS, REVIEW_FACTOR, signal_rows
from service.scoring.features import BASE_FEATURES, NEIGHBOUR_FEATURES
from service.scoring.models import LinearIsotonicModel

CANDIDATES: tuple[str, ...] = (
    "rule",
    "position",
    "disagreement",
    "mean_position_disagreement",
    "mean_all_signals",
    "max_position_disagreement",
    "uniform",
    "profile",
)


@dataclass(frozen=True, slots=True)
class Scored:
    """One dataset scored zero-shot: per answer, the error (share of the maximum points), the
    rule's confidence and needs_review, the signals and the three estimates."""

    name: str
    error: np.ndarray
    rule: np.ndarray
    flagged: np.ndarray
    signals: np.ndarray  # BASE_SIGNALS columns
    reported: np.ndarray  # points / max_points
    estimates: np.ndarray  # score, keyword coverage, similarity (0..1)


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """``FILE`` or ``FILE@SPLIT`` (an ``@`` followed by a path separator is part of the name)."""
    path, sep, split = spec.rpartition("@")
    if not sep or not path or "/" in split:
        return Path(spec), None
    return Path(path), split


def score_dataset(name: str, rows: Sequence[ev.Row]) -> Scored:
    """Score ``rows`` zero-shot, as ``service.evaluate`` does without training rows."""
    step = ev.score_step(rows)
    results = ev.score_rows(rows, (), step, None)
    scored = [row for row in rows if row.index in results]
    breakdowns = [results[row.index] for row in scored]
    max_points = np.asarray([row.max_score for row in scored], dtype=np.float64)
    points = np.asarray([b.points for b in breakdowns], dtype=np.float64)
    gold = np.asarray([row.score for row in scored], dtype=np.float64)
    # The score the rule reads (after any advisory cap) and the features it was made from.
    raw = np.asarray([b.raw for b in breakdowns], dtype=np.float64)
    names = list(NEIGHBOUR_FEATURES)
    x = np.asarray(
        [[dict(b.components)[f] for f in names] for b in breakdowns], dtype=np.float64
    ).reshape(len(breakdowns), len(names))[:, : len(BASE_FEATURES)]
    signals = signal_rows(raw, x, neighbours=False, steps=max_points / step)
    estimates = np.column_stack(
        [
            np.clip(raw, 0.0, 1.0),
            np.asarray([b.keyword_coverage for b in breakdowns], dtype=np.float64),
            np.asarray([b.similarity for b in breakdowns], dtype=np.float64),
        ]
    )
    return Scored(
        name=name,
        error=np.abs(points - gold) / max_points,
        rule=np.asarray([b.confidence for b in breakdowns], dtype=np.float64),
        flagged=np.asarray([b.needs_review for b in breakdowns], dtype=bool),
        signals=signals,
        reported=points / max_points,
        estimates=estimates.reshape(len(breakdowns), 3),
    )


def uniform_error(reported: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """E|q - t| for t uniform on [low, high] (a point where they are equal), per answer."""
    width = high - low
    inside = np.clip(reported, low, high)
    spread = np.where(width > 0, width, 1.0)
    within = ((inside - low) ** 2 + (high - inside) ** 2) / (2 * spread)
    error: np.ndarray = np.where(
        width > 0, within + np.abs(reported - inside), np.abs(reported - low)
    )
    return error


def fit_profile(datasets: Sequence[Scored]) -> tuple[LinearIsotonicModel, float]:
    """The error-profile model fitted on these datasets' zero-shot errors, and their mean."""
    signals = np.vstack([d.signals for d in datasets])
    errors = np.concatenate([d.error for d in datasets])
    return LinearIsotonicModel.fit(BASE_SIGNALS, signals, errors), float(errors.mean())


def confidences(
    scored: Scored, others: Sequence[Scored]
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Each candidate's confidence of ``scored``'s answers (larger: surer) and, where the
    candidate has a principled flag, its ``needs_review``; ``profile`` needs ``others``."""
    position, boundary, disagreement = (scored.signals[:, i] for i in range(3))
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {
        "rule": (scored.rule, scored.flagged),
        "position": (1 - position, None),
        "disagreement": (1 - disagreement, None),
        "mean_position_disagreement": (1 - (position + disagreement) / 2, None),
        "mean_all_signals": (1 - (position + boundary + disagreement) / 3, None),
        "max_position_disagreement": (1 - np.maximum(position, disagreement), None),
        "uniform": (
            1
            - uniform_error(
                scored.reported, scored.estimates.min(axis=1), scored.estimates.max(axis=1)
            ),
            None,
        ),
    }
    if others:
        model, typical = fit_profile(others)
        expected = np.clip(model.predict(scored.signals), 0.0, 1.0)
        # The calibrated profile's flag: half as large again as the fitted mean error.
        out["profile"] = (1 - expected, expected >= REVIEW_FACTOR * typical)
    return out


def evaluate(datasets: Sequence[Scored]) -> dict[str, Any]:
    """Per dataset: its size, mean error and every candidate's figures."""
    result: dict[str, Any] = {}
    for i, scored in enumerate(datasets):
        others = [d for j, d in enumerate(datasets) if j != i]
        figures: dict[str, Any] = {}
        for name, (confidence, flagged) in confidences(scored, others).items():
            ranked = ranking(
                confidence,
                scored.error,
                flagged if flagged is not None else np.zeros(len(confidence), dtype=bool),
            )
            figures[name] = {
                "ratio": ranked["ratio"],
                "aurc": ranked["aurc"],
                "risk_at_low_share": ranked["risk"][f"{LOW_SHARE:.1f}"],
                "flagged_share": ranked["flagged_share"] if flagged is not None else None,
            }
        result[scored.name] = {
            "n": len(scored.error),
            "error": float(scored.error.mean()) if len(scored.error) else float("nan"),
            "candidates": figures,
        }
    return result


def _text(result: dict[str, Any]) -> str:
    lines = []
    for name, data in result.items():
        lines.append(f"{name}: n = {data['n']}, MAE {data['error']:.4f} of the maximum")
        lines.append(f"  {'candidate':28} {'ratio':>6} {'aurc':>7} {'risk20':>7} {'flag%':>6}")
        for candidate, r in data["candidates"].items():
            flag = "-" if r["flagged_share"] is None else f"{r['flagged_share']:.1%}"
            lines.append(
                f"  {candidate:28} {r['ratio']:6.2f} {r['aurc']:7.4f} "
                f"{r['risk_at_low_share']:7.4f} {flag:>6}"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    command = argparse.ArgumentParser(
        prog="python -m service.evaluation.zero_shot_confidence",
        description=(__doc__ or "").split("\n\n")[0],
    )
    command.add_argument(
        "datasets", nargs="+", help="JSON Lines file of graded answers, FILE or FILE@SPLIT"
    )
    command.add_argument("--json", action="store_true", help="print JSON")
    args = command.parse_args(argv)
    datasets = []
    for spec in args.datasets:
        path, split = parse_spec(spec)
        rows = ev.load_rows(path, split=split)
        if not rows:
            command.error(f"no rows in {spec}")
        datasets.append(score_dataset(spec, rows))
    result = evaluate(datasets)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(_text(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
