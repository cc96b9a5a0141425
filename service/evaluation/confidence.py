"""Does low confidence find the large errors? Held-out risk-coverage of ``confidence``.

    python -m service.evaluation.confidence TEST.jsonl [--cv-folds K | --train-split S] [--json]

Same rows, protocol and flags as ``python -m service.evaluate`` (its loading, folds and
grader building are reused; no scoring logic here). Every held-out answer is scored twice
by the same grader: with its calibration's error profile (the service's confidence) and
with the profile removed, which is the rule the service used before (and still uses for
zero-shot questions and calibrations stored without a profile). For each:

* ``error_low`` / ``error_rest`` / ``ratio``: mean absolute error as a share of the maximum
  points (for 0/1 scores, the error rate) of the ``LOW_SHARE`` least confident answers, of the
  rest, and their ratio. A share of the maximum, because that is what confidence speaks of
  (``1 - expected error / max_points``) and what stays comparable across questions of
  different scales (ASAP mixes 0-2 and 0-3 prompts); ``ratio_points`` is the same ratio of
  errors in points;
* ``flagged_share`` / ``error_flagged`` / ``error_unflagged``: the same split by
  ``needs_review`` (which also counts the advisories' flags);
* ``risk``: error of the answers kept when the least confident 0, 10, ..., 50 % go to a
  teacher, and ``aurc``: the area under the whole risk-coverage curve (mean risk over
  coverages 1 %..100 %; a confidence that ranks nothing has ``aurc`` = the overall error).

Answers with equal confidence are treated as one block: a cut through a block takes the
block's mean error for the part it takes, so ties never flatter or harm a figure.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from service import evaluate as ev
from service.scoring import Calibration, ScoreBreakdown

# The share of least confident answers compared with the rest (the target).
LOW_SHARE = 0.2
# Shares sent to a teacher on the printed risk-coverage curve.
REVIEW_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
# Coverages the AURC averages over.
_AURC_GRID = np.linspace(0.01, 1.0, 100)


def removed_error_sum(confidence: np.ndarray, error: np.ndarray, count: float) -> float:
    """Sum of the errors of the ``count`` least confident answers (``count`` may be
    fractional; a block of equal confidence straddling the cut counts at its mean)."""
    order = np.argsort(confidence, kind="stable")
    values = confidence[order]
    errors = error[order]
    total = 0.0
    taken = 0.0
    start = 0
    while start < len(values) and taken < count:
        stop = int(np.searchsorted(values, values[start], side="right"))
        size = stop - start
        part = min(float(size), count - taken)
        total += part * float(errors[start:stop].mean())
        taken += part
        start = stop
    return total


def kept_error(confidence: np.ndarray, error: np.ndarray, share: float) -> float:
    """Mean error of the answers kept when the least confident ``share`` are removed."""
    n = len(error)
    removed = share * n
    if n - removed <= 0:
        return float("nan")
    return (float(error.sum()) - removed_error_sum(confidence, error, removed)) / (n - removed)


def ranking(
    confidence: np.ndarray,
    error: np.ndarray,
    flagged: np.ndarray,
    points: np.ndarray | None = None,
) -> dict[str, Any]:
    """The figures of one confidence (see the module docstring); ``error``: per answer, as a
    share of the maximum points; ``points``: the same errors in points, if they differ."""
    n = len(error)
    error_low, error_rest = _low_and_rest(confidence, error)
    # Risk at coverage c: mean error of the c most confident answers.
    aurc = float(np.mean([kept_error(confidence, error, 1.0 - c) for c in _AURC_GRID]))
    return {
        "error_low": error_low,
        "error_rest": error_rest,
        "ratio": error_low / error_rest if error_rest > 0 else float("inf"),
        "flagged_share": float(flagged.mean()) if n else 0.0,
        "error_flagged": float(error[flagged].mean()) if flagged.any() else float("nan"),
        "error_unflagged": float(error[~flagged].mean()) if (~flagged).any() else float("nan"),
        "risk": {f"{share:.1f}": kept_error(confidence, error, share) for share in REVIEW_SHARES},
        "aurc": aurc,
        "mean_confidence": float(confidence.mean()) if n else float("nan"),
        **({"ratio_points": _ratio(confidence, points)} if points is not None else {}),
    }


def _low_and_rest(confidence: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """Mean error of the ``LOW_SHARE`` least confident answers (NaN without answers) and
    of the rest."""
    low = LOW_SHARE * len(error)
    error_low = removed_error_sum(confidence, error, low) / low if low else float("nan")
    return error_low, kept_error(confidence, error, LOW_SHARE)


def _ratio(confidence: np.ndarray, error: np.ndarray) -> float:
    error_low, error_rest = _low_and_rest(confidence, error)
    return error_low / error_rest if error_rest else float("nan")


def score_both(
    test: Sequence[ev.Row], train: Sequence[ev.Row], step: float, calibration: Calibration | None
) -> dict[int, tuple[ScoreBreakdown, ScoreBreakdown]]:
    """Each test row scored with the calibration's error profile and without it (the rule)."""
    rule = dataclasses.replace(calibration, error=None) if calibration is not None else None
    graded = ev.by_question(train)
    results: dict[int, tuple[ScoreBreakdown, ScoreBreakdown]] = {}
    for question_id, rows in ev.by_question(test).items():
        grader = ev.build_grader(rows, graded.get(question_id, []), step, calibration)
        if grader is None:
            continue
        rule_grader = grader.with_calibration(rule)
        for row in rows:
            results[row.index] = (grader.grade(row.answer), rule_grader.grade(row.answer))
    return results


def evaluate(
    test: Sequence[ev.Row],
    *,
    train: Sequence[ev.Row] = (),
    cv_folds: int | None = None,
    cv_by: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Confidence figures of the service's model and of the rule on held-out answers."""
    step = ev.score_step([*test, *train])
    mode, folds = ev.protocol(test, train=train, cv_folds=cv_folds, cv_by=cv_by, seed=seed)
    results: dict[int, tuple[ScoreBreakdown, ScoreBreakdown]] = {}
    profiled = 0
    for fold in folds:
        calibration = ev.fit_calibration(fold.train, step) if fold.calibrate else None
        scored = score_both(fold.test, fold.train, step, calibration)
        if calibration is not None and calibration.error is not None:
            profiled += len(scored)
        results |= scored
    rows = [row for row in test if row.index in results]
    points = np.asarray([abs(results[r.index][0].points - r.score) for r in rows])
    error = points / np.asarray([r.max_score for r in rows])
    out: dict[str, Any] = {
        "mode": mode,
        "n": len(rows),
        "error": float(error.mean()) if rows else float("nan"),
        "error_points": float(points.mean()) if rows else float("nan"),
        "profiled_share": profiled / len(rows) if rows else 0.0,
    }
    for name, which in (("model", 0), ("rule", 1)):
        confidence = np.asarray([results[r.index][which].confidence for r in rows])
        flagged = np.asarray([results[r.index][which].needs_review for r in rows], dtype=bool)
        out[name] = ranking(confidence, error, flagged, points)
    return out


def _text(result: dict[str, Any]) -> str:
    lines = [
        f"mode: {result['mode']}, n = {result['n']}, MAE {result['error_points']:.4f} points "
        f"= {result['error']:.4f} of the maximum, with an error profile: "
        f"{result['profiled_share']:.0%}; errors below: share of the maximum points",
        f"{'':6} {'low20%':>7} {'rest':>7} {'ratio':>6} {'r_pts':>6} {'flag%':>6} {'e_flag':>7} "
        f"{'e_unfl':>7} {'aurc':>7}  risk at review share "
        + " ".join(f"{s:.0%}" for s in REVIEW_SHARES),
    ]
    for name in ("model", "rule"):
        r = result[name]
        lines.append(
            f"{name:6} {r['error_low']:7.4f} {r['error_rest']:7.4f} {r['ratio']:6.2f} "
            f"{r['ratio_points']:6.2f} "
            f"{r['flagged_share']:6.1%} {r['error_flagged']:7.4f} {r['error_unflagged']:7.4f} "
            f"{r['aurc']:7.4f}  " + " ".join(f"{v:.4f}" for v in r["risk"].values())
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    command = ev.parser("python -m service.evaluation.confidence", __doc__.split("\n\n")[0])
    args = command.parse_args(argv)
    test, train = ev.rows_from_args(command, args)
    result = evaluate(test, train=train, cv_folds=args.cv_folds, cv_by=args.cv_by, seed=args.seed)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(_text(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
