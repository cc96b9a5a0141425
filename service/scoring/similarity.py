"""TF-IDF similarity of an answer to the closest reference answer.

The vectoriser is fitted on the question's reference material only (background text and
reference answers), never on learner answers: otherwise one learner's score would depend on
what the others wrote, and would drift as submissions arrive.

Fitting uses scikit-learn's ``TfidfVectorizer``; scoring an answer does not. Its
``transform`` spends about 0.5 ms per call on input validation and sparse-matrix plumbing,
for an answer of a few dozen features. ``TfidfSpace`` repeats the arithmetic of
``transform`` and of the sparse product with the reference rows operation for operation
(the same NumPy log, products and divisions, sums in the same order), so the similarities
are identical to the last bit; ``tests/scoring/test_fast_path.py`` keeps it that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from service.scoring.kernel import KernelModel, basis_of
from service.scoring.text import Token, content_stems, normalise, tokenize


class StemAnalyzer:
    """Stems of content words, optionally minus demoted stems, as unigrams and bigrams.

    Demoting the question's own words (Mohler et al. 2011) keeps an answer that merely
    repeats the question from looking similar to the reference answer.
    """

    def __init__(self, demoted: frozenset[str] = frozenset(), ngram_max: int = 2) -> None:
        self.demoted = demoted
        self.ngram_max = ngram_max

    def __call__(self, text: str | Sequence[str]) -> list[str]:
        """Features of a text, or of its content stems when already tokenised (a list)."""
        words = content_stems(text) if isinstance(text, str) else text
        stems = [s for s in words if s not in self.demoted]
        features = list(stems)
        for n in range(2, self.ngram_max + 1):
            features.extend(" ".join(stems[i : i + n]) for i in range(len(stems) - n + 1))
        return features


# Words whose character n-grams a ``TfidfSpace`` remembers (per fitted question).
_WORD_CACHE_SIZE = 50_000
# Reference matrices up to this many cells are kept dense for the fast path; larger ones
# (a neighbour index over many graded answers) are multiplied as sparse matrices instead.
_DENSE_CELLS = 1_000_000
_EMPTY = np.zeros(0, dtype=np.intp)
# ``TfidfSpace.best`` works in plain Python floats for documents of up to this many features
# (repeats counted) and up to ``_PYTHON_ROWS`` rows: a word model's few dozen features cost
# about ten NumPy calls of a microsecond or more each, far more than the arithmetic itself.
# Longer documents (character n-grams of a long answer) go through NumPy, where the per-call
# cost is spread over hundreds of values. Both give the same floats (see ``TfidfSpace``).
_PYTHON_FEATURES = 160
_PYTHON_ROWS = 16
# ``np.log(count) + 1.0`` (sublinear tf) for counts below this, computed once with NumPy's own
# ``log`` so that the table holds exactly the values ``vector`` computes per document.
_LOG_TABLE_SIZE = 1024
_LOG_PLUS_ONE: list[float] = [
    math.nan,  # a count of zero never occurs: only features present are looked up
    *(np.log(np.arange(1, _LOG_TABLE_SIZE, dtype=np.float64)) + 1.0).tolist(),
]

_LOG_PLUS_ONE_ARRAY = np.array(_LOG_PLUS_ONE, dtype=np.float64)


def _log_plus_one(count: int) -> float:
    """``np.log(count) + 1.0``, from the table when it is there."""
    if count < _LOG_TABLE_SIZE:
        return _LOG_PLUS_ONE[count]
    return float(np.log(np.array([count], dtype=np.float64))[0] + 1.0)


class TfidfSpace:
    """The answer-side half of a fitted ``TfidfVectorizer`` (sublinear tf, L2 norm), plus the
    L2-normalised rows it is compared with, without scikit-learn's per-call overhead.

    ``similarities(indices)`` equals ``(rows @ vectorizer.transform([doc]).T).toarray()``
    bit for bit, where ``indices`` are the vocabulary indices of the document's features
    (repeats counted). Bit for bit, because every step is the operation scikit-learn and
    SciPy perform, in the same order:

    - counts per feature, in ascending feature index (``_count_vocab`` sorts the indices);
    - ``np.log(count) + 1.0`` then ``* idf_`` (``TfidfTransformer.transform``);
    - the squared norm summed left to right in index order (``inplace_csr_row_normalize_l2``
      loops in C; ``np.cumsum`` is a sequential running sum, unlike the pairwise ``np.sum``),
      its ``sqrt``, and one division per value;
    - each row's dot product summed left to right over the shared features in index order
      (SciPy's ``csr_matmat``). The dense row also holds zeros for features the row lacks;
      adding ``+0.0`` to a non-negative sum changes no bit.
    """

    def __init__(self, vectorizer: TfidfVectorizer, rows: sp.spmatrix | sp.sparray) -> None:
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf: np.ndarray = np.asarray(vectorizer.idf_, dtype=np.float64)
        self._sparse = sp.csr_matrix(rows)
        shape = self._sparse.shape
        self._dense: np.ndarray | None = (
            self._sparse.toarray() if shape[0] * shape[1] <= _DENSE_CELLS else None
        )
        self._ngrams: dict[str, np.ndarray] = {}
        # For the plain-Python path: idf as floats, and per feature the rows that have it with
        # their values, rows ascending (``None`` where there are too many rows for it).
        self._idf_list: list[float] = self.idf.tolist()
        self._rows = shape[0]
        self._postings: dict[int, list[tuple[int, float]]] | None = None
        if shape[0] <= _PYTHON_ROWS:
            postings: dict[int, list[tuple[int, float]]] = {}
            coo = self._sparse.tocoo()
            for row, column, value in sorted(
                zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
            ):
                postings.setdefault(column, []).append((row, value))
            self._postings = postings

    def vector(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The normalised TF-IDF vector of a document: (sorted feature indices, values)."""
        counts = np.bincount(indices)
        features = counts.nonzero()[0]
        if indices.size < _LOG_TABLE_SIZE:  # every count is in the table
            values = _LOG_PLUS_ONE_ARRAY.take(counts.take(features))
        else:
            values = np.log(counts.take(features).astype(np.float64))
            values += 1.0
        values *= self.idf.take(features)
        values /= math.sqrt(float(np.cumsum(values * values)[-1]))
        return features, values

    def similarities(self, indices: np.ndarray) -> np.ndarray | None:
        """Cosine similarity of the document to every row; None if it has no known feature."""
        if indices.size == 0:
            return None
        features, values = self.vector(indices)
        if self._dense is None:
            vector = sp.csr_matrix((values, features, [0, features.size]), shape=(1, self.idf.size))
            return np.asarray((self._sparse @ vector.T).toarray()).ravel()
        products = self._dense.take(features, axis=1)
        products *= values
        return np.cumsum(products, axis=1)[:, -1]

    def best(self, indices: Sequence[int]) -> float:
        """``max(similarities(np.array(indices)))`` clamped to 0..1 (0.0 for no known
        feature): the same floats, from plain Python for short documents."""
        if not indices:
            return 0.0
        if self._postings is None or len(indices) > _PYTHON_FEATURES:
            return _best(self.similarities(np.array(indices, dtype=np.intp)))
        return float(min(1.0, max(0.0, max(self.python_similarities(indices)))))

    def nearest(self, indices: Sequence[int]) -> int:
        """``argmax(similarities(np.array(indices)))`` (0 for no known feature)."""
        if not indices:
            return 0
        if self._postings is None or len(indices) > _PYTHON_FEATURES:
            similarities = self.similarities(np.array(indices, dtype=np.intp))
            return 0 if similarities is None else int(np.argmax(similarities))
        values = self.python_similarities(indices)
        return values.index(max(values))  # the first on a tie, like argmax

    def python_similarities(self, indices: Sequence[int]) -> list[float]:
        """``similarities`` in plain Python floats, operation for operation (``indices``
        non-empty; only for a space with ``_postings``):

        - counts per feature, features ascending (``bincount`` then ``nonzero``);
        - ``(log(count) + 1.0) * idf`` per feature, the table holding NumPy's ``log``;
        - the squared norm summed left to right (``cumsum``), ``sqrt``, one division each;
        - per row, its products with the document summed left to right in feature order.
          The dense product also adds ``0.0`` for every feature a row lacks; adding ``+0.0``
          to a sum that is ``+0.0`` or positive changes no bit, so those are skipped.
        """
        postings = self._postings
        assert postings is not None
        counts: dict[int, int] = {}
        get = counts.get
        for index in indices:
            counts[index] = get(index, 0) + 1
        features = sorted(counts)
        idf = self._idf_list
        table = _LOG_PLUS_ONE
        values = [
            (table[count] if (count := counts[f]) < _LOG_TABLE_SIZE else _log_plus_one(count))
            * idf[f]
            for f in features
        ]
        squares = 0.0
        for value in values:
            squares += value * value
        norm = math.sqrt(squares)
        totals = [0.0] * self._rows
        no_rows: list[tuple[int, float]] = []
        for feature, value in zip(features, values, strict=True):
            rows = postings.get(feature, no_rows)
            if rows:
                value /= norm
                for row, weight in rows:
                    totals[row] += weight * value
        return totals

    def word_index_list(self, features: Sequence[str]) -> list[int]:
        """``word_indices`` as a list."""
        get = self.vocabulary.get
        return [index for feature in features if (index := get(feature)) is not None]

    def word_indices(self, features: Sequence[str]) -> np.ndarray:
        """Vocabulary indices of ``features`` (out-of-vocabulary ones dropped)."""
        get = self.vocabulary.get
        found = [index for feature in features if (index := get(feature)) is not None]
        return np.array(found, dtype=np.intp) if found else _EMPTY

    def char_wb_indices(
        self, text: str, preprocessor: Callable[[str], str], ngram_range: tuple[int, int]
    ) -> np.ndarray:
        """Vocabulary indices of the ``analyzer="char_wb"`` n-grams of ``text``.

        scikit-learn's ``_char_wb_ngrams`` pads every whitespace-separated word with one
        space and takes its n-grams word by word, so the n-grams of a word are memoised.
        """
        cache = self._ngrams
        arrays = []
        # ``split()`` splits on runs of exactly the characters scikit-learn's ``\s\s+``
        # collapses (``str.isspace`` is what ``re`` calls whitespace), so the collapsing
        # itself can be left out: the words are the same.
        for word in preprocessor(text).split():
            array = cache.get(word)
            if array is None:
                array = self.word_indices(_char_wb_ngrams(word, ngram_range))
                if len(cache) < _WORD_CACHE_SIZE:
                    cache[word] = array
            if array.size:
                arrays.append(array)
        return np.concatenate(arrays) if arrays else _EMPTY


def _char_wb_ngrams(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams scikit-learn's ``_char_wb_ngrams`` takes from one word (same loop)."""
    min_n, max_n = ngram_range
    padded = " " + word + " "
    length = len(padded)
    ngrams = []
    for n in range(min_n, max_n + 1):
        offset = 0
        ngrams.append(padded[offset : offset + n])
        while offset + n < length:
            offset += 1
            ngrams.append(padded[offset : offset + n])
        if offset == 0:  # a short word (shorter than n) is counted only once
            break
    return ngrams


def _best(similarities: np.ndarray | None) -> float:
    if similarities is None:
        return 0.0
    # One value per reference answer (a handful): the largest of the plain floats is the
    # same float as ``ndarray.max``, without its Python-level wrapper (no NaN can occur).
    return float(min(1.0, max(0.0, max(similarities.tolist()))))


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
        self.analyzer_ = analyzer
        self.reference_matrix_ = vectorizer.transform(references)
        self.space_ = TfidfSpace(vectorizer, self.reference_matrix_)
        return self

    def score(self, answer: str | Sequence[str]) -> float:
        """Highest cosine similarity to a reference, clamped to 0..1 (0 for no known words).

        ``answer`` is a text or its content stems (e.g. after spelling correction). Equal to
        ``transform_score``, without scikit-learn's per-call overhead.
        """
        # Rows are L2-normalised, so cosine similarity is a dot product.
        return self.space_.best(self.space_.word_index_list(self.analyzer_(answer)))

    def nearest(self, answer: str | Sequence[str]) -> int:
        """Index of the most similar reference (the first on a tie or with no known word)."""
        return self.space_.nearest(self.space_.word_index_list(self.analyzer_(answer)))

    def transform_score(self, answer: str | Sequence[str]) -> float:
        """``score`` through ``TfidfVectorizer.transform``: the reference for equivalence
        tests and benchmarks, not for serving."""
        vector = self.vectorizer_.transform([answer])
        if vector.nnz == 0:
            return 0.0
        similarities = (self.reference_matrix_ @ vector.T).toarray().ravel()
        return float(min(1.0, max(0.0, similarities.max())))


class CharSimilarityScorer:
    """Cosine similarity of character n-grams (within words) to the nearest reference.

    Complements the word model: partial words, compounds and misspellings still share most
    of their character n-grams with the reference ("electrically" / "electric").
    """

    def __init__(self, *, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self.ngram_range = ngram_range

    def fit(self, references: Sequence[str], background: Sequence[str] = ()) -> Self:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.ngram_range,
            preprocessor=normalise,
            sublinear_tf=True,
            dtype=np.float64,
        )
        vectorizer.fit([*background, *references])
        self.vectorizer_ = vectorizer
        self.reference_matrix_ = vectorizer.transform(references)
        self.space_ = TfidfSpace(vectorizer, self.reference_matrix_)
        return self

    def score(self, answer: str) -> float:
        """Equal to ``transform_score``, without scikit-learn's per-call overhead."""
        # Character n-grams of an answer run to hundreds: NumPy's path (see ``TfidfSpace``).
        space = self.space_
        return _best(space.similarities(space.char_wb_indices(answer, normalise, self.ngram_range)))

    def transform_score(self, answer: str) -> float:
        """``score`` through ``TfidfVectorizer.transform`` (equivalence tests, benchmarks)."""
        vector = self.vectorizer_.transform([answer])
        if vector.nnz == 0:
            return 0.0
        similarities = (self.reference_matrix_ @ vector.T).toarray().ravel()
        return float(min(1.0, max(0.0, similarities.max())))


# Prefix of a stem read under a negation ("not closed" -> NEGATED + "close").
NEGATED = "not_"


def polar_stems(tokens: Sequence[Token]) -> list[str]:
    """Content stems with negated ones marked, so that "not in a closed path" and "in a
    closed path" share no feature where they disagree (TF-IDF drops "not", a stop word)."""
    return [NEGATED + t.stem if t.negated else t.stem for t in tokens if not t.is_stop]


@dataclass(frozen=True, slots=True)
class Neighbours:
    """What the nearest instructor-graded answers say about an answer (scores in 0..1)."""

    mean: float  # similarity-weighted mean score of the nearest graded answers (words)
    top: float  # score of the single nearest graded answer (words)
    similarity: float  # cosine similarity to it
    char_mean: float  # the same mean, with character n-gram similarity
    high_similarity: float  # similarity to the nearest graded answer scoring above average
    low_similarity: float  # similarity to the nearest graded answer scoring below average
    # The question's kernel ridge estimates over all its graded answers (``kernel``), on the
    # blend of word (negated stems marked) and character similarity, on words only and on
    # characters only; 0 where there are too few. Defaulted so that code building the older
    # six fields still works.
    kernel: float = 0.0
    kernel_words: float = 0.0
    kernel_chars: float = 0.0


def _nearest_mean(similarities: np.ndarray, scores: np.ndarray, k: int) -> tuple[float, int]:
    """Similarity-weighted mean score of the ``k`` most similar, and the index of the nearest
    (ties broken by index, so results are deterministic)."""
    k = min(k, similarities.size)
    nearest = np.argpartition(-similarities, k - 1)[:k]
    nearest = nearest[np.lexsort((nearest, -similarities[nearest]))]
    weights = np.clip(similarities[nearest], 0.0, None)
    total = weights.sum()
    mean = float(weights @ scores[nearest] / total) if total > 0 else float(scores[nearest].mean())
    return mean, int(nearest[0])


class NeighbourIndex:
    """Instructor-graded answers of one question, searchable by TF-IDF cosine.

    The vocabularies (word stems and character n-grams) are fitted on the question's material
    plus the graded answers (instructor data, fixed until the graded set changes), never on
    ungraded learner answers. A sparse matrix product finds the nearest graded answers.
    """

    def __init__(self, *, demoted: Iterable[str] = (), k: int = 5) -> None:
        self.demoted = frozenset(demoted)
        self.k = k

    def fit(
        self, answers: Sequence[str], scores: Sequence[float], material: Sequence[str] = ()
    ) -> Self:
        word = TfidfVectorizer(
            analyzer=StemAnalyzer(self.demoted, 2), sublinear_tf=True, dtype=np.float64
        )
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(3, 5),
            preprocessor=normalise,
            sublinear_tf=True,
            dtype=np.float64,
        )
        polar = TfidfVectorizer(
            analyzer=StemAnalyzer(self.demoted, 2), sublinear_tf=True, dtype=np.float64
        )
        self.word_: TfidfVectorizer | None = None
        self.char_: TfidfVectorizer | None = None
        self.polar_space_: TfidfSpace | None = None
        # Kernel models on the blend, the words and the characters (see ``Neighbours``).
        self.kernels_: tuple[KernelModel, KernelModel, KernelModel] | None = None
        self._basis_position: dict[int, int] = {}
        try:
            self.word_matrix_ = word.fit([*material, *answers]).transform(answers)
            self.word_ = word
            self.char_matrix_ = char.fit([*material, *answers]).transform(answers)
            self.char_ = char
            self.word_space_ = TfidfSpace(word, self.word_matrix_)
            self.char_space_ = TfidfSpace(char, self.char_matrix_)
            marked = [polar_stems(tokenize(text)) for text in answers]
            self.polar_matrix_ = polar.fit(
                [*(polar_stems(tokenize(text)) for text in material), *marked]
            ).transform(marked)
            self.polar_space_ = TfidfSpace(polar, self.polar_matrix_)
        except ValueError:  # nothing but stop words anywhere: neighbours can say nothing
            pass
        self.scores_ = np.asarray(scores, dtype=np.float64)
        if self.word_ is not None and self.char_ is not None:
            self._fit_kernel()
        return self

    def _fit_kernel(self) -> None:
        """The per-question kernel models: on the mean of word similarity (negated stems
        marked, see ``polar_stems``) and character similarity (the blend of the similarity
        component), and on each alone, so that the calibration can weigh words against
        characters (separate estimates raised Beetle's train CV, 0.837 -> 0.841)."""
        if self.polar_space_ is None:
            return
        basis = basis_of(self.scores_.size)
        words = sp.csr_matrix(self.polar_matrix_)[basis]
        chars = sp.csr_matrix(self.char_matrix_)[basis]
        word_similarities = (words @ words.T).toarray()
        char_similarities = (chars @ chars.T).toarray()
        scores = self.scores_[basis]
        blend = KernelModel.fit((word_similarities + char_similarities) / 2, scores, basis)
        by_words = KernelModel.fit(word_similarities, scores, basis)
        by_chars = KernelModel.fit(char_similarities, scores, basis)
        if blend is None or by_words is None or by_chars is None:  # too few graded answers
            return
        self.kernels_ = (blend, by_words, by_chars)
        self._basis_position = {int(index): position for position, index in enumerate(basis)}

    def _similarities(self, space: TfidfSpace, indices: np.ndarray) -> np.ndarray:
        similarities = space.similarities(indices)
        if similarities is None:  # what the sparse product gives for an empty vector
            return np.zeros(self.scores_.size)
        return similarities  # a fresh array: ``query`` may write into it

    def query(
        self,
        answer: str,
        stems: Sequence[str],
        *,
        exclude: int | None = None,
        polar: Sequence[str] | None = None,
    ) -> Neighbours:
        """Neighbours of ``answer`` (text, and its content stems); ``exclude`` leaves one
        graded answer out (itself, when graded answers are scored to train a calibration);
        ``polar``: its ``polar_stems``, if known."""
        scores = self.scores_
        if self.word_ is None or self.char_ is None or scores.size - (exclude is not None) <= 0:
            return Neighbours(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        word = self._similarities(
            self.word_space_, self.word_space_.word_indices(StemAnalyzer(self.demoted, 2)(stems))
        )
        char = self._similarities(
            self.char_space_,
            self.char_space_.char_wb_indices(answer, normalise, (3, 5)),
        )
        kernel, kernel_words, kernel_chars = self._kernel(answer, polar, char, exclude)
        valid = np.ones(scores.size, dtype=bool)
        if exclude is not None:
            valid[exclude] = False
            word[exclude] = -1.0
            char[exclude] = -1.0
        mean, best = _nearest_mean(word, scores, self.k)
        char_mean, _ = _nearest_mean(char, scores, self.k)
        average = scores[valid].mean()
        high = valid & (scores > average)
        low = valid & (scores <= average)
        return Neighbours(
            mean=mean,
            top=float(scores[best]),
            similarity=float(max(0.0, word[best])),
            char_mean=char_mean,
            high_similarity=float(max(0.0, word[high].max())) if high.any() else 0.0,
            low_similarity=float(max(0.0, word[low].max())) if low.any() else 0.0,
            kernel=kernel,
            kernel_words=kernel_words,
            kernel_chars=kernel_chars,
        )

    def _kernel(
        self, answer: str, polar: Sequence[str] | None, char: np.ndarray, exclude: int | None
    ) -> tuple[float, float, float]:
        """The kernel estimates (blend, words, characters) from the similarities to the
        graded answers; for a graded answer left out, its exact leave-one-out estimates
        (what a new answer would get)."""
        kernels = self.kernels_
        space = self.polar_space_
        if kernels is None or space is None:
            return 0.0, 0.0, 0.0
        blend, by_words, by_chars = kernels
        if exclude is not None:
            position = self._basis_position.get(exclude)
            if position is not None:
                return (
                    float(blend.loo[position]),
                    float(by_words.loo[position]),
                    float(by_chars.loo[position]),
                )
        if polar is None:
            polar = polar_stems(tokenize(answer))
        analyzer = StemAnalyzer(self.demoted, 2)
        basis = blend.basis
        word = self._similarities(space, space.word_indices(analyzer(polar)))[basis]
        chars = char[basis]
        return (
            blend.predict((word + chars) / 2),
            by_words.predict(word),
            by_chars.predict(chars),
        )
