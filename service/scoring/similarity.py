"""TF-IDF similarity of an answer to the closest reference answer.

The vectoriser is fitted on the question's reference material only (background text and
reference answers), never on learner answers: otherwise one learner's score would depend on
what the others wrote, and would drift as submissions arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Self

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from service.scoring.text import content_stems


class StemAnalyzer:
    """Stems of content words, optionally minus demoted stems, as unigrams and bigrams.

    Demoting the question's own words (Mohler et al. 2011) keeps an answer that merely
    repeats the question from looking similar to the reference answer.
    """

    def __init__(self, demoted: frozenset[str] = frozenset(), ngram_max: int = 2) -> None:
        self.demoted = demoted
        self.ngram_max = ngram_max

    def __call__(self, text: str) -> list[str]:
        stems = [s for s in content_stems(text) if s not in self.demoted]
        features = list(stems)
        for n in range(2, self.ngram_max + 1):
            features.extend(" ".join(stems[i : i + n]) for i in range(len(stems) - n + 1))
        return features


class SimilarityScorer:
    """Cosine similarity to the nearest reference answer, in the fitted TF-IDF space.

    scikit-learn shape: the constructor only stores parameters, ``fit`` learns
    ``vectorizer_`` and ``reference_matrix_``, ``score`` only reads them.
    """

    def __init__(self, *, demoted: Iterable[str] = (), ngram_max: int = 2) -> None:
        self.demoted = frozenset(demoted)
        self.ngram_max = ngram_max

    def fit(self, references: Sequence[str], background: Sequence[str] = ()) -> Self:
        """Fit document frequencies on background + references; keep the reference vectors.

        If demoting the question's words leaves the references with no vocabulary at all
        (a reference that only restates the question), demotion is dropped rather than
        making every answer score zero.
        """
        if not references:
            raise ValueError("at least one reference answer is required")
        corpus = [*background, *references]
        analyzer = StemAnalyzer(self.demoted, self.ngram_max)
        if not any(analyzer(reference) for reference in references):
            analyzer = StemAnalyzer(frozenset(), self.ngram_max)
        vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, dtype=np.float64)
        vectorizer.fit(corpus)  # raises ValueError("empty vocabulary") for hopeless input
        self.vectorizer_ = vectorizer
        self.reference_matrix_ = vectorizer.transform(references)
        return self

    def score(self, answer: str) -> float:
        """Highest cosine similarity to a reference, clamped to 0..1 (0 for no known words)."""
        vector = self.vectorizer_.transform([answer])
        if vector.nnz == 0:
            return 0.0
        # Rows are L2-normalised, so cosine similarity is a dot product.
        similarities = (self.reference_matrix_ @ vector.T).toarray().ravel()
        return float(min(1.0, max(0.0, similarities.max())))
