"""A per-question kernel ridge regression over the similarities of graded answers.

The graded-neighbour features (``similarity.Neighbours``) average the scores of the ``k``
nearest graded answers. A kernel ridge regression reads *all* of a question's graded answers
at once, each weighted by how similar it is, and learns how much of each to trust from the
question's own grades: where a question's answers fall into a few clusters (a right idea and
a few typical misconceptions) it reproduces the cluster's grade; where similarity says little
it shrinks towards the question's mean. It is fitted separately for every question, so its
bandwidth and regularisation adapt to that question's data, chosen by exact leave-one-out
error over generic grids (nothing here was tuned on a dataset).

The kernel is an RBF on the unit-normalised TF-IDF vectors: with cosine similarity ``s``,
``||a - b||^2 = 2 (1 - s)``, so ``exp(-(1 - s) / width)``, fitted to the grades minus their
mean (a heavy penalty shrinks the estimate to the question's mean, never to 0). With
``G = (K + lambda I)^-1``, the leave-one-out fit of targets ``t`` at answer ``i`` is exactly
``t_i - (G t)_i / G_ii`` (the standard identity for ridge regression), the mean left out too,
so every candidate is scored on answers it did not see, and the training rows of a
calibration get the estimate a new answer would get.

Pure NumPy: the fitted model is a few arrays kept in memory beside the neighbour index; it is
refitted from the graded answers whenever a ``Grader`` is built, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Kernel widths (in units of 1 - cosine similarity) and ridge penalties tried per question.
# Widths span "only near-copies count" to "everything counts a little"; penalties span
# "interpolate the grades" to "return the mean". Both are wide, generic grids.
WIDTHS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
PENALTIES: tuple[float, ...] = tuple(float(p) for p in np.logspace(-2, 2, 9))
# Fitting is cubic in the number of graded answers (an eigendecomposition per width, for
# each of the index's three kernel models): beyond this many, an evenly spaced subset is the
# model's basis. 300 keeps building a grader well under a second even with the 5,000 graded
# answers a rubric may hold, and a per-question estimate gains little from more (the
# standard error of a mean of 300 grades is under 0.03 of the scale); every graded answer
# still counts as a neighbour in ``NeighbourIndex``.
MAX_BASIS = 300
# A question needs this many graded answers for a leave-one-out choice to mean anything.
MIN_ANSWERS = 5


@dataclass(frozen=True, slots=True)
class KernelModel:
    """A fitted kernel ridge regression: ``predict(s) = mean + exp(-(1 - s) / width) @ alpha``
    where ``s`` are the cosine similarities of an answer to the ``basis`` graded answers."""

    basis: np.ndarray  # indices of the graded answers the model is built on
    mean: float  # their mean score: what the estimate falls back to far from all of them
    alpha: np.ndarray
    width: float
    penalty: float
    loo: np.ndarray  # leave-one-out prediction of every basis answer (same order as basis)
    loo_rmse: float

    @classmethod
    def fit(
        cls, similarities: np.ndarray, scores: np.ndarray, basis: np.ndarray
    ) -> KernelModel | None:
        """Fit on the ``n x n`` cosine similarities among the ``basis`` graded answers and
        their scores (0..1); ``None`` with fewer than ``MIN_ANSWERS``."""
        n = scores.size
        if n < MIN_ANSWERS:
            return None
        distance = np.clip(1.0 - similarities, 0.0, 2.0)
        mean = float(scores.mean())
        # Leave-one-out means: each answer's model is centred without its own grade.
        loo_means = (scores.sum() - scores) / (n - 1)
        ones = np.ones(n)
        best: tuple[float, float, float, np.ndarray, np.ndarray] | None = None
        for width in WIDTHS:
            kernel = np.exp(-distance / width)
            eigenvalues, eigenvectors = np.linalg.eigh((kernel + kernel.T) / 2)
            eigenvalues = np.clip(eigenvalues, 0.0, None)
            projected = eigenvectors.T @ np.stack([scores, ones], axis=1)
            squares = eigenvectors * eigenvectors
            for penalty in PENALTIES:
                inverse = 1.0 / (eigenvalues + penalty)
                solved = eigenvectors @ (inverse[:, None] * projected)  # G y, G 1
                diagonal = squares @ inverse  # diag(G)
                # Ridge is linear in its targets: the leave-one-out fit of y - m·1 is the
                # one of y minus m times the one of 1, each t_i - (G t)_i / G_ii.
                of_scores = scores - solved[:, 0] / diagonal
                of_ones = 1.0 - solved[:, 1] / diagonal
                loo = loo_means + of_scores - loo_means * of_ones
                error = float(np.mean((scores - loo) ** 2))
                # On a tie the first candidate is kept, so the choice is deterministic.
                if best is None or error < best[0]:
                    alpha = solved[:, 0] - mean * solved[:, 1]  # G (y - mean)
                    best = (error, width, penalty, alpha, loo)
        assert best is not None
        error, width, penalty, alpha, loo = best
        return cls(
            basis=basis,
            mean=mean,
            alpha=alpha,
            width=width,
            penalty=penalty,
            loo=np.clip(loo, 0.0, 1.0),
            loo_rmse=float(np.sqrt(error)),
        )

    def predict(self, similarities: np.ndarray) -> float:
        """The estimate (clipped to 0..1) for an answer with these similarities to the basis."""
        distance = np.clip(1.0 - similarities, 0.0, 2.0)
        value = self.mean + float(np.exp(-distance / self.width) @ self.alpha)
        return min(1.0, max(0.0, value))


def basis_of(n: int) -> np.ndarray:
    """Indices of the graded answers a kernel model is built on: all of them up to
    ``MAX_BASIS``, else that many evenly spaced (deterministic, whatever the order)."""
    if n <= MAX_BASIS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_BASIS).round().astype(np.intp))
