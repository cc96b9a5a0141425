"""gibberish: text that was not written as words (mashed keys, pasted syllables)."""

from __future__ import annotations

import re
from functools import lru_cache

from service.scoring.advisories.base import Advisory, Answer, share

GIBBERISH = Advisory(
    "gibberish",
    "Parts of your answer do not look like real words. Check what you typed and write your "
    "answer in full sentences.",
    cap=0.2,
    needs_review=True,
)

# gibberish: English words (4+ letters) have a vowel, no run of six consonants ("strengths"
# has five), no letter tripled, no stretch of a keyboard row and are not one syllable
# pasted three times. A typo or a foreign name rarely breaks these rules, so a third of the
# judged words failing (and at least two) means the text was not written as words. Across
# words of 5+ letters English runs at about 38% vowels (a, e, i, o, u, y); mashing keys
# runs at 10-20%. A share needs a sample: under 20% over 40+ letters (short honest answers
# such as "short string, high pitch" can dip below it), or over one mashed "word" of 15+
# letters that is the whole answer.
GIBBERISH_MIN_WORD_LETTERS = 4
GIBBERISH_MAX_CONSONANT_RUN = 5
GIBBERISH_MIN_NONWORDS = 2
GIBBERISH_MIN_NONWORD_SHARE = 0.3
GIBBERISH_VOWEL_WORD_LETTERS = 5
GIBBERISH_MIN_VOWEL_LETTERS = 40
GIBBERISH_MIN_SINGLE_WORD_LETTERS = 15
GIBBERISH_MAX_VOWEL_SHARE = 0.2

# Four-key stretches of a keyboard row, both directions, except those inside English words
# ("liberty" has "erty", "strewn" has "trew").
_KEYBOARD_RUNS = tuple(
    """qwer wert rtyu tyui yuio uiop poiu oiuy iuyt uytr ytre rewq asdf sdfg dfgh fghj ghjk
    hjkl lkjh kjhg jhgf hgfd gfds fdsa zxcv xcvb cvbn vbnm mnbv nbvc bvcx vcxz""".split()
)
_VOWELS = frozenset("aeiouy")
_CONSONANT_RUN_RE = re.compile(rf"[b-df-hj-np-tv-xz]{{{GIBBERISH_MAX_CONSONANT_RUN + 1},}}")
_TRIPLE_LETTER_RE = re.compile(r"([a-z])\1\1")
_PASTED_SYLLABLE_RE = re.compile(r"([a-z]{1,3})\1{2,}")


def is_gibberish(answer: Answer) -> bool:
    """Many judged words break the shape of English words, or the letters lack vowels.

    Judged words are plain ASCII letters of four or more, written as prose writes words
    (lower case, or capitalised): acronyms (USSR, SALT), identifiers (xPtr, bPtr) and words
    touching code symbols (``*xPtr``, ``&x[1]``) are often vowel-less or unusual, and are
    not what gibberish is.
    """
    judged = _judged_words(answer)
    nonwords = sum(not _looks_like_word(word) for word in judged)
    if nonwords >= GIBBERISH_MIN_NONWORDS and (
        share(nonwords, len(judged)) >= GIBBERISH_MIN_NONWORD_SHARE
    ):
        return True
    letters = "".join(word for word in judged if len(word) >= GIBBERISH_VOWEL_WORD_LETTERS)
    vowels = sum(letters.count(vowel) for vowel in _VOWELS)
    sample = len(letters) >= GIBBERISH_MIN_VOWEL_LETTERS or (
        len(judged) == 1 and len(letters) >= GIBBERISH_MIN_SINGLE_WORD_LETTERS
    )
    return sample and share(vowels, len(letters)) < GIBBERISH_MAX_VOWEL_SHARE


_CODE_SYMBOLS = frozenset("*&_[](){};=<>#$%^~`/\\")


def _judged_words(answer: Answer) -> list[str]:
    """The words ``is_gibberish`` judges: ASCII letters only, four or more, written as prose
    (``_written_as_prose``, inlined: this runs for every word of every answer)."""
    text = answer.text
    length = len(text)
    symbols = _CODE_SYMBOLS
    judged = []
    for word, _, start, end, _, _ in answer.tokens:
        if len(word) < GIBBERISH_MIN_WORD_LETTERS or not word.isascii() or not word.isalpha():
            continue
        surface = text[start:end]
        if not (surface.islower() or (surface[0].isupper() and surface[1:].islower())):
            continue
        if (start > 0 and text[start - 1] in symbols) or (end < length and text[end] in symbols):
            continue
        judged.append(word)
    return judged


def _written_as_prose(text: str, start: int, end: int) -> bool:
    surface = text[start:end]
    if not (surface.islower() or (surface[0].isupper() and surface[1:].islower())):
        return False
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before not in _CODE_SYMBOLS and after not in _CODE_SYMBOLS


@lru_cache(maxsize=100_000)
def _looks_like_word(word: str) -> bool:
    return (
        any(letter in _VOWELS for letter in word)
        and not _CONSONANT_RUN_RE.search(word)
        and not _TRIPLE_LETTER_RE.search(word)
        and not _PASTED_SYLLABLE_RE.fullmatch(word)
        and not any(run in word for run in _KEYBOARD_RUNS)
    )
