"""Forgive misspellings of longer words: map an unknown word to a close word of the question.

Only words of the question's own material (reference answers, rubric phrasings, background)
are candidates, so a misspelling can only be read as a word the grader cares about. The
allowed edit distance grows with the word's length (short words are left alone: "cat" and
"bat" are different words, "photosynthsis" is a slip), and the first letter must agree,
as in most spelling checkers.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from service.scoring.text import stem

# Words shorter than this are never corrected; up to LONG_WORD letters one edit is forgiven,
# longer words two.
MIN_LENGTH = 5
LONG_WORD = 8
# Words whose correction one corrector remembers (bounded: learner text is open-ended).
_MEMO_SIZE = 50_000


def max_edits(word: str) -> int:
    """Edits forgiven for a word of this length (0 for short words)."""
    if len(word) < MIN_LENGTH:
        return 0
    return 1 if len(word) < LONG_WORD else 2


class SpellingCorrector:
    """Maps a case-folded word that the question's material does not contain to the stem of
    the closest word it does contain, or ``None``. Deterministic: ties go to the word that
    sorts first."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        words = sorted(set(vocabulary))
        self._by_initial: dict[str, list[str]] = {}
        for word in words:
            if len(word) >= MIN_LENGTH - 1:
                self._by_initial.setdefault(word[0], []).append(word)
        self.known_stems = frozenset(stem(word) for word in words)
        # Results of ``correct`` per word; a plain dict, so concurrent graders at worst
        # compute the same deterministic answer twice.
        self._memo: dict[str, str | None] = {}

    def correct(self, word: str) -> str | None:
        """The stem of the closest known word, or None (memoised per word: learners repeat
        the same misspellings, and a fuzzy search costs far more than a lookup)."""
        memo = self._memo
        if word in memo:
            return memo[word]
        corrected = self._correct(word)
        if len(memo) < _MEMO_SIZE:
            memo[word] = corrected
        return corrected

    def _correct(self, word: str) -> str | None:
        edits = max_edits(word)
        if edits == 0:
            return None
        candidates = self._by_initial.get(word[0])
        if not candidates:
            return None
        found = process.extractOne(
            word, candidates, scorer=Levenshtein.distance, score_cutoff=edits
        )
        if found is None:
            return None
        return stem(found[0])
