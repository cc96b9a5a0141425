"""other_language: an answer written in another language than the question's (it goes to a
teacher, unmarked: it is not wrong, the grader just cannot read it)."""

from __future__ import annotations

import unicodedata

from service.scoring.advisories.base import Advisory, Answer, share
from service.scoring.language import (
    NO_LANGUAGE,
    NON_LATIN_MIN_LETTER_SHARE,
    QuestionLanguage,
    is_latin,
    ranked,
)

OTHER_LANGUAGE = Advisory(
    "other_language",
    "Your answer does not seem to be written in the language of the question, so it could "
    "not be marked automatically. A teacher will read it instead; it has not been marked as "
    "wrong.",
    cap=None,
    needs_review=True,
)

# Words: runs of letters of one script (``_language_words``); numbers and formula symbols
# are not counted. Below six words a text is a name, a term or a formula, not a sentence:
# a character n-gram identifier has a few dozen characters to go on and is unreliable
# there (its accuracy on one- to five-word strings is far below its accuracy on
# sentences), and a teacher loses little by reading such an answer in the usual way.
LANGUAGE_MIN_WORDS = 6
# Function words are 40-50% of running text in English (and in every European language):
# an answer in the question's language where they are under a fifth is a list of terms at
# most, which the identifier cannot place either. At or above it, no other language is
# considered: that also keeps the identifier (tens of microseconds) off most answers.
QUESTION_WORDS_MAX_SHARE = 0.2
# The identifier must give the question's language at most one chance in ten: nine in ten
# that the answer is in another one. That is a sum over languages, because close relatives
# (Indonesian and Malay, Spanish and Galician, Croatian and Serbian, Danish and Norwegian)
# split the posterior of a text in either between them. Its probabilities are tempered by
# text length (py3langid's norm_probs), so English with names or loan words keeps far more.
QUESTION_LANGUAGE_MAX_PROBABILITY = 0.1
# ... and it must recognise some language: the most probable one holds at least even odds.
# Formulas and code ("log(log n), 2^(log n), n!") are no language, and the identifier then
# spreads its posterior thinly over dozens; the question's language gets little of it too.
OTHER_LANGUAGE_MIN_PROBABILITY = 0.5
# Prose punctuates with commas and full stops; brackets and operators come a few to a
# sentence at most ("(local variables)"), under one character in twenty. Code and formulas
# ("a[++top] = x;", "2^(log n)") have one every few characters, and their keywords are
# English whatever the question's language: above one in ten, no language is judged.
CODE_MIN_SYMBOL_SHARE = 0.1
_CODE_SYMBOLS = frozenset("{}[]()<>=+*/\\|^~;#&$@_%")

# A word in another script (Cyrillic, Greek, Arabic, a CJK run) has at least two letters; a
# formula's Greek letters stand alone ("ΔH", "π r²"). Four such letters are two words of
# Russian or a short Chinese phrase, more than any formula puts side by side.
NON_LATIN_MIN_LETTERS = 4


def is_other_language(answer: Answer, language: QuestionLanguage) -> bool:
    """``answer`` is written in a language other than ``language``: in another script,
    or long enough to judge, with few of the question language's words, and the identifier
    sure that it is not the question's language but a language it recognises. Too little
    text to judge means the question's language."""
    if language.latin_script and not answer.text.isascii() and _in_other_script(answer):
        return True
    if not language.identifiable:
        return False
    words = _language_words(answer)
    if len(words) < LANGUAGE_MIN_WORDS:
        return False
    own = sum(map(language.words.__contains__, words))
    if share(own, len(words)) >= QUESTION_WORDS_MAX_SHARE or _is_code_like(answer.text):
        return False
    # The identifier reads the words alone: numbers, symbols and formula letters are no
    # language, and would only pull its posterior towards Greek or "no language".
    posterior = ranked(" ".join(words))
    best, probability = posterior[0]
    return (
        best not in (language.code, NO_LANGUAGE)
        and probability >= OTHER_LANGUAGE_MIN_PROBABILITY
        and dict(posterior).get(language.code, 0.0) <= QUESTION_LANGUAGE_MAX_PROBABILITY
    )


def _is_code_like(text: str) -> bool:
    """Brackets, operators and other code symbols are a tenth of the visible characters."""
    visible = [char for char in text if not char.isspace()]
    symbols = sum(char in _CODE_SYMBOLS or unicodedata.category(char) == "Sm" for char in visible)
    return share(symbols, len(visible)) >= CODE_MIN_SYMBOL_SHARE


def _language_words(answer: Answer) -> list[str]:
    """The answer's words that can show a language: letters only, all of one script (Latin
    or not), and a non-Latin one of two letters or more. "x2", "pΔv" and a lone Greek
    letter are a formula's symbols; "a", "y", "é" are words of several languages."""
    words = []
    for token in answer.tokens:
        text = token.text
        letters = text.replace("'", "") if "'" in text else text
        if not letters.isalpha():
            continue
        if letters.isascii():  # the usual case: ASCII letters are all Latin
            words.append(text)
            continue
        latin = [is_latin(char) for char in letters]
        if all(latin) or (len(letters) >= 2 and not any(latin)):
            words.append(text)
    return words


def _in_other_script(answer: Answer) -> bool:
    """Most letters are in words of two or more non-Latin letters, and there are enough."""
    letters = sum(char.isalpha() for char in answer.text)
    foreign = sum(
        len(token.text)
        for token in answer.tokens
        if len(token.text) >= 2 and not any(is_latin(char) for char in token.text)
    )
    return (
        foreign >= NON_LATIN_MIN_LETTERS and share(foreign, letters) >= NON_LATIN_MIN_LETTER_SHARE
    )
