"""Answer groups: answers to one question that deserve the same score, so that a teacher
grades one representative per group instead of every answer.

Three steps, each merging what the previous one left apart:

1. Exact duplicates (equal after case folding and dropping whitespace and punctuation)
   always share a group: they are the same answer.
2. Near duplicates (TF-IDF cosine similarity at least ``duplicate_similarity``) share a
   group: the same answer with a typo, a missing word or different word order. Connected
   components of the "near duplicate" graph, so the relation is applied transitively.
3. Answers that meet the same rubric criteria in similar words are clustered by average
   linkage (UPGMA) with a distance threshold: the distance of two answers is the cosine
   distance of their TF-IDF vectors plus the share of criteria on which they disagree.

The vectors are fitted on the grouped texts themselves (an unsupervised grouping of one
question's answers, nothing is scored with them): word stems (unigrams and bigrams, as the
scorer uses) and character 3-5-grams (robust to misspellings), averaged with equal weights.

Average linkage is scikit-learn's ``AgglomerativeClustering(linkage="average")`` algorithm;
we call the SciPy routine it delegates to (``scipy.cluster.hierarchy.linkage``) with a
condensed distance vector that we compute block by block, because scikit-learn's
precomputed-distance path materialises the full square matrix and two index arrays of the
same size (about 600 MB at 5,000 answers, against 100 MB here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from service.scoring.similarity import StemAnalyzer
from service.scoring.text import normalise

# Answers grouped in one fit; the cost of the distances grows with the square. Callers group
# the most recent MAX_ANSWERS answers of a question.
MAX_ANSWERS = 5_000
# Characters of each answer that are vectorised (the submission limit is 10,000): the start
# of an answer is what tells groups apart, and it bounds the vectorising work.
MAX_TEXT_CHARS = 2_000
# How much one disagreeing criterion (as a share of all criteria) adds to the text distance.
CRITERIA_WEIGHT = 1.0
# Rows of the distance matrix computed at a time (bounds the dense intermediate).
_BLOCK_ROWS = 512
# UPGMA: a group joins another when its answers are close to theirs on average.
_LINKAGE = "average"

_NON_WORD_RE = re.compile(r"[\W_]+")


def normalised_key(text: str) -> str:
    """The form in which two answers are exact duplicates: case folded, NFKC, with runs of
    whitespace and punctuation turned into one space."""
    return _NON_WORD_RE.sub(" ", normalise(text)).strip()


class AnswerGrouping(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Groups answers that deserve the same score.

    ``duplicate_similarity``: the TF-IDF cosine similarity from which two answers are near
    duplicates (always grouped). ``distance_threshold``: the average-linkage distance below
    which groups of answers merge (text cosine distance plus criteria disagreement); ``None``
    groups exact and near duplicates only.
    """

    def __init__(
        self, *, duplicate_similarity: float = 0.8, distance_threshold: float | None = 0.5
    ) -> None:
        self.duplicate_similarity = duplicate_similarity
        self.distance_threshold = distance_threshold

    def fit(
        self, texts: Sequence[str], criteria: np.ndarray | None = None, y: None = None
    ) -> AnswerGrouping:
        """Group ``texts``; ``criteria`` is an (n_answers, n_criteria) 0/1 matrix of the
        rubric criteria each answer met, or ``None`` when not known."""
        hits = self._validate(texts, criteria)
        n = len(texts)
        if n == 0:
            self.labels_ = np.zeros(0, dtype=np.intp)
            self.representatives_ = np.zeros(0, dtype=np.intp)
            self.n_groups_ = 0
            return self

        # 1. Exact duplicates: one "unique" row per normalised text.
        keys = [normalised_key(text) for text in texts]
        unique_of: dict[str, int] = {}
        exact = np.array([unique_of.setdefault(key, len(unique_of)) for key in keys])
        first = np.zeros(len(unique_of), dtype=np.intp)
        first[exact[::-1]] = np.arange(n - 1, -1, -1)  # first answer of each unique text
        counts = np.bincount(exact).astype(np.float64)
        vectors = _vectorise([texts[int(i)][:MAX_TEXT_CHARS] for i in first])

        # One pass of sparse products; the rest is dense arithmetic on these similarities.
        similarities = _similarities(vectors)

        # 2. Near duplicates: connected components of "similarity >= duplicate_similarity"
        # (a tolerance, so that a text compared with itself reaches 1.0 despite rounding).
        rows, cols = np.nonzero(similarities >= self.duplicate_similarity - 1e-6)
        graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=similarities.shape)
        near = _first_seen_order(connected_components(graph, directed=False)[1])
        n_near = int(near.max()) + 1

        # 3. Average linkage over the near-duplicate groups, each as the normalised sum of its
        # answers' vectors (duplicates weigh by their count) and the mean of their criteria.
        group_hits = None
        if hits is not None:
            member = sp.csr_matrix(
                (counts, (near, np.arange(len(unique_of)))), shape=(n_near, len(unique_of))
            )
            group_hits = (member @ hits[first]) / np.asarray(member.sum(axis=1))
        if self.distance_threshold is None or n_near == 1:
            clusters = np.arange(n_near)
        else:
            if n_near < len(unique_of):  # centroid cosines from the answers' ones
                similarities = _centroid_similarities(similarities, vectors, near, counts)
            condensed = _condensed_distances(similarities, group_hits)
            tree = linkage(condensed, method=_LINKAGE)
            clusters = fcluster(tree, t=self.distance_threshold, criterion="distance") - 1
        del similarities

        raw = clusters[near[exact]]
        self.labels_ = _first_seen_order(raw)
        self.n_groups_ = int(self.labels_.max()) + 1
        self.representatives_ = _representatives(self.labels_, vectors[exact], self.n_groups_)
        return self

    def _validate(self, texts: Sequence[str], criteria: np.ndarray | None) -> np.ndarray | None:
        if not 0.0 < self.duplicate_similarity <= 1.0:
            raise ValueError("duplicate_similarity must be in (0, 1]")
        if self.distance_threshold is not None and not self.distance_threshold >= 0.0:
            raise ValueError("distance_threshold must be at least 0 or None")
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise ValueError("texts must be a sequence of strings")
        if len(texts) > MAX_ANSWERS:
            raise ValueError(f"at most {MAX_ANSWERS} answers can be grouped at once")
        if criteria is None:
            return None
        hits = np.asarray(criteria, dtype=np.float64)
        if hits.ndim != 2 or hits.shape[0] != len(texts):
            raise ValueError("criteria must be an (n_answers, n_criteria) matrix")
        if not np.all((hits >= 0.0) & (hits <= 1.0)):  # also refuses NaN
            raise ValueError("criteria must hold values between 0 and 1")
        return hits if hits.shape[1] > 0 else None


def _vectorise(texts: list[str]) -> sp.csr_matrix:
    """L2-normalised rows whose dot product is the mean of the word-stem and the character
    n-gram cosine similarities (a part is all zeros when a text has no such features)."""
    parts = []
    word = TfidfVectorizer(analyzer=StemAnalyzer(), sublinear_tf=True, dtype=np.float64)
    char = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        preprocessor=normalise,
        sublinear_tf=True,
        dtype=np.float64,
    )
    for vectorizer in (word, char):
        try:
            parts.append(vectorizer.fit_transform(texts))
        except ValueError:  # no features at all (only stop words, or only punctuation)
            parts.append(sp.csr_matrix((len(texts), 1)))
    return normalize(sp.hstack(parts, format="csr") * np.sqrt(0.5))


def _similarities(vectors: sp.csr_matrix) -> np.ndarray:
    """The cosine similarities of all rows (float32: 100 MB at MAX_ANSWERS), computed a
    block of rows at a time so that no sparse product holds more than a block."""
    n = vectors.shape[0]
    out = np.empty((n, n), dtype=np.float32)
    for start in range(0, n, _BLOCK_ROWS):
        out[start : start + _BLOCK_ROWS] = (
            vectors[start : start + _BLOCK_ROWS] @ vectors.T
        ).toarray()
    return out


def _centroid_similarities(
    similarities: np.ndarray, vectors: sp.csr_matrix, groups: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Cosines of the groups' centroids (the normalised weighted sums of their members'
    vectors). A group of one has its member's vector, so only the rows and columns of the
    (usually few) larger groups need new products."""
    n_groups = int(groups.max()) + 1
    sizes = np.bincount(groups, minlength=n_groups)
    first = np.full(n_groups, groups.size, dtype=np.intp)
    np.minimum.at(first, groups, np.arange(groups.size))
    out = similarities[np.ix_(first, first)]
    larger = np.flatnonzero(sizes > 1)
    if larger.size:
        member = sp.csr_matrix(
            (weights, (groups, np.arange(groups.size))), shape=(n_groups, groups.size)
        )
        centroids = normalize(member @ vectors)
        cross = (centroids[larger] @ centroids.T).toarray().astype(np.float32)
        out[larger, :] = cross
        out[:, larger] = cross.T
    return out


def _condensed_distances(similarities: np.ndarray, hits: np.ndarray | None) -> np.ndarray:
    """Pairwise distances in SciPy's condensed order (row-major upper triangle): cosine
    distance of the text vectors plus CRITERIA_WEIGHT x the mean criteria disagreement."""
    n = similarities.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=np.float64)
    position = 0
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(n, start + _BLOCK_ROWS)
        block = np.clip(1.0 - similarities[start:stop, start:].astype(np.float64), 0.0, 2.0)
        if hits is not None:  # the mean absolute difference of the criteria hits
            block += (CRITERIA_WEIGHT / hits.shape[1]) * cdist(
                hits[start:stop], hits[start:], "cityblock"
            )
        for offset in range(stop - start):
            row = block[offset, offset + 1 :]
            out[position : position + row.size] = row
            position += row.size
    return out


def _first_seen_order(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..k-1 in the order in which each first occurs."""
    _, first_index, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first_index.size, dtype=np.intp)
    rank[np.argsort(first_index, kind="stable")] = np.arange(first_index.size)
    return rank[inverse.ravel()]


def _representatives(labels: np.ndarray, vectors: sp.csr_matrix, n_groups: int) -> np.ndarray:
    """Per group, the member most similar on average to all members (itself included); the
    earliest such member on ties."""
    n = labels.size
    member = sp.csr_matrix((np.ones(n), (labels, np.arange(n))), shape=(n_groups, n))
    sums = member @ vectors  # group sum vectors
    centrality = np.asarray(vectors.multiply(sums[labels]).sum(axis=1)).ravel()
    # Round so that equal members (exact duplicates) tie exactly and the earliest wins.
    order = np.lexsort((np.arange(n), -np.round(centrality, 9), labels))
    starts = np.searchsorted(labels[order], np.arange(n_groups))
    return order[starts].astype(np.intp)
