"""not_english: an answer written in another language (it goes to a teacher, unmarked)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from service.scoring.advisories.base import Advisory, Answer, share
from service.scoring.text import STOP_WORDS

NOT_ENGLISH = Advisory(
    "not_english",
    "Your answer does not seem to be written in English, so it could not be marked "
    "automatically. A teacher will read it instead; it has not been marked as wrong.",
    cap=None,
    needs_review=True,
)

# not_english: function words are 40-50% of running text in every European language, and
# each list below (its most frequent function words, minus English stop words and words
# common in English answers: "also", "era"; German "war" is left out on purpose) covers a
# quarter or more of text in its language. English answers hit them only by accident ("la",
# "de Gaulle"; the "de" of "de-escalate" is not counted), so a fifth of the words, and more
# of them than English stop words, means another language.
# Below six words the counts are too small to compare. English uses diacritics only in
# loan words (détente, naïve), well under 2% of words; Polish, Czech or Turkish use them in
# 20-60%. Scripts other than Latin settle it directly.
LANGUAGE_MIN_WORDS = 6
FOREIGN_MIN_FUNCTION_SHARE = 0.2
DIACRITIC_MIN_WORD_SHARE = 0.15
DIACRITIC_MAX_ENGLISH_STOP_SHARE = 0.2
NON_LATIN_MIN_LETTER_SHARE = 0.5

_FOREIGN_FUNCTION_WORDS_TEXT = {
    "spanish": """de la que el en y los del se las por un para con una su al lo como más
        pero sus le ya o este sí porque esta entre cuando muy sin sobre también hasta hay
        donde quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos
        esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes
        nada muchos cual poco ella estar estas algunas algo nosotros fue es está han ha
        fueron ser puede pueden""",
    "french": """de la le les et des en un une du est que qui dans pour pas sur au avec il
        elle ce ne se par sa ses mais ou nous vous ils elles leur leurs été être aux cette
        ces comme tout très sont ont avait était entre sans lui y peut chaque autre
        l' d' qu' n' s' c' j'""",
    "german": """der die und den das von zu mit sich des auf für ist im dem nicht ein eine
        als auch es an er sie nach wird bei einer um aus einem noch wie einen oder aber
        vor zur bis unter kann sind durch werden wurde haben hatte ihre ihr seine sein
        dass zum über diese dieser wenn nur ohne jeder konnte""",
    "portuguese": """de que e do da em um para com não uma os se na por mais dos como mas
        ao ele das seu sua ou quando muito nos já eu também só pelo pela até isso ela entre
        depois sem mesmo aos seus quem nas esse eles você essa num nem suas às minha numa
        pelos elas qual foi são está estão tem ser pode assim cada outro outra ainda onde""",
    "italian": """di e il la che è per un una sono non con del da si al lo ma della anche
        più dei nel alla gli delle questo ha ci ed se nella suo sua loro fra tra stato
        essere molto dal degli sul hanno può così ogni senza dopo ancora questa quello
        l' dell' all' nell' dall' sull' un' d' c'""",
    "dutch": """de het een en van dat op te zijn voor met niet aan er maar om ook als dan
        bij nog wel naar uit worden kan zo ze werd hij heeft deze wordt waren hebben""",
}
# Listed function words that are also common English words in history answers.
_ENGLISH_COLLISIONS = frozenset({"also", "era"})
FOREIGN_FUNCTION_WORDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        language: frozenset(words.split()) - STOP_WORDS - _ENGLISH_COLLISIONS
        for language, words in _FOREIGN_FUNCTION_WORDS_TEXT.items()
    }
)

# Any word of any listed language, elided forms included: most words are in none of them.
_ANY_FUNCTION_WORD = frozenset().union(*FOREIGN_FUNCTION_WORDS.values())


def is_not_english(answer: Answer) -> bool:
    """Mostly non-Latin letters, or enough words to show another language's function words
    or diacritics. Too few words to judge means English is assumed."""
    # ASCII letters are all Latin: only other text can have a non-Latin share.
    if not answer.text.isascii():
        letters = [char for char in answer.text if char.isalpha()]
        non_latin = sum(not _is_latin(char) for char in letters)
        if letters and share(non_latin, len(letters)) >= NON_LATIN_MIN_LETTER_SHARE:
            return True
    tokens = answer.tokens
    if len(tokens) < LANGUAGE_MIN_WORDS:
        return False
    english = len(tokens) - len(answer.content)
    # A word listed in no language counts for none: only the others are looked up per
    # language. "de-escalate" splits into "de" + "escalate": a hyphenated prefix is
    # English morphology.
    anywhere = _ANY_FUNCTION_WORD
    listed = [
        t.text
        for t in tokens
        if (t.text in anywhere or ("'" in t.text and _is_function_word(t.text, anywhere)))
        and not answer.text.startswith("-", t.end)
    ]
    foreign = max(
        sum(_is_function_word(word, vocabulary) for word in listed)
        for vocabulary in FOREIGN_FUNCTION_WORDS.values()
    )
    if foreign > english and share(foreign, len(tokens)) >= FOREIGN_MIN_FUNCTION_SHARE:
        return True
    # NFKC and case folding keep ASCII text ASCII, so only other text has accented words.
    accented = 0 if answer.text.isascii() else sum(not t.text.isascii() for t in tokens)
    return (
        share(accented, len(tokens)) >= DIACRITIC_MIN_WORD_SHARE
        and answer.stop_share < DIACRITIC_MAX_ENGLISH_STOP_SHARE
    )


@lru_cache(maxsize=4096)
def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def _is_function_word(word: str, vocabulary: frozenset[str]) -> bool:
    """``word`` is listed, or starts with a listed elision ("l'autre", "dell'opinione")."""
    elided, apostrophe, _ = word.partition("'")
    return word in vocabulary or (bool(apostrophe) and f"{elided}'" in vocabulary)
