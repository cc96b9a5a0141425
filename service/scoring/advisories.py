"""Advisories: signs that an answer is gaming the grader or cannot be graded fairly.

Contract:

- ``AnswerContext.build(...)`` is called once per rubric (cache it next to the grader); it
  stems the question, reference answers, rubric phrasings and background text.
- ``assess(answer, context, similarity=..., coverage=...)`` is pure and deterministic: the
  same inputs always give the same tuple of advisories, in a fixed order (the order of
  ``ADVISORY_CODES``), each code at most once. An empty tuple means nothing unusual.
- ``apply_caps(score, advisories)`` lowers a normalised score (0..1) to the smallest cap.
  An advisory with ``needs_review`` asks for a teacher; the caller decides how to hold the
  score until then. ``not_english`` has no cap on purpose: such an answer is not wrong, it
  is unreadable to this grader, so it goes to a teacher instead of being marked down.

Every threshold below is a named constant, justified by how English text behaves rather
than fitted to particular answers. The detectors prefer missing a gaming attempt to
flagging an honest student: a false flag takes marks from someone who did the work.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from service.scoring.errors import RubricError
from service.scoring.text import STOP_WORDS, Token, content_stems, normalise, tokenize


@dataclass(frozen=True, slots=True)
class Advisory:
    """Something about an answer that a score alone would hide.

    ``code`` is a stable machine name (stored with the result); ``message`` is written for
    the student; ``cap`` is the highest normalised score (0..1) the answer may keep, or None;
    ``needs_review`` asks for a teacher to look at the answer.
    """

    code: str
    message: str
    cap: float | None
    needs_review: bool


KEYWORD_STUFFING = Advisory(
    "keyword_stuffing",
    "Your answer looks like a list of keywords. Write full sentences that explain how the "
    "ideas connect.",
    cap=0.4,
    needs_review=True,
)
COPIES_QUESTION = Advisory(
    "copies_question",
    "Your answer mostly repeats the question. Answer it in your own words and add the "
    "points the question asks for.",
    cap=0.2,
    needs_review=False,
)
OFF_TOPIC = Advisory(
    "off_topic",
    "Your answer does not seem to be about this question. Check that you sent the right "
    "text, then answer the question that was asked.",
    cap=0.1,
    needs_review=True,
)
GIBBERISH = Advisory(
    "gibberish",
    "Parts of your answer do not look like real words. Check what you typed and write your "
    "answer in full sentences.",
    cap=0.2,
    needs_review=True,
)
REPETITION = Advisory(
    "repetition",
    "Your answer repeats the same words or sentences several times. Repeating a point does "
    "not earn extra marks: make each point once, then add new ones.",
    cap=None,
    needs_review=True,
)
TOO_SHORT = Advisory(
    "too_short",
    "Your answer is very short. Write a few sentences that explain your answer, not just a "
    "word or two.",
    cap=0.3,
    needs_review=False,
)
TOO_LONG = Advisory(
    "too_long",
    "Your answer is much longer than it needs to be. Extra length does not earn marks: keep "
    "to the points that answer the question. A teacher will check it.",
    cap=0.85,
    needs_review=True,
)
NOT_ENGLISH = Advisory(
    "not_english",
    "Your answer does not seem to be written in English, so it could not be marked "
    "automatically. A teacher will read it instead; it has not been marked as wrong.",
    cap=None,
    needs_review=True,
)

ECHOES_FEEDBACK = Advisory(
    "echoes_feedback",
    "Your answer repeats the feedback text of this question instead of answering it. "
    "Feedback is there to guide you, not to be copied: copied sentences earn no marks. "
    "Answer in your own words. A teacher will check it.",
    cap=None,
    needs_review=True,
)

ADVISORY_CODES: tuple[str, ...] = tuple(
    advisory.code
    for advisory in (
        NOT_ENGLISH,
        ECHOES_FEEDBACK,
        GIBBERISH,
        REPETITION,
        TOO_SHORT,
        COPIES_QUESTION,
        KEYWORD_STUFFING,
        OFF_TOPIC,
        TOO_LONG,
    )
)

# Every message an advisory can show a student (feedback text a student could copy back).
ADVISORY_MESSAGES: tuple[str, ...] = (
    NOT_ENGLISH.message,
    ECHOES_FEEDBACK.message,
    GIBBERISH.message,
    REPETITION.message,
    TOO_SHORT.message,
    COPIES_QUESTION.message,
    KEYWORD_STUFFING.message,
    OFF_TOPIC.message,
    TOO_LONG.message,
)

# --- Thresholds ------------------------------------------------------------------------

# too_short: distinct content words against the shortest reference answer's. An answer
# with under about a seventh of them cannot carry the reference's content; the limit never
# exceeds two (two content words can be a complete answer, "function signature", "closed
# path"), and an answer with no content word is always too short. Short answers that are
# merely thin ("Kennedy and Khrushchev talked") are left to the score itself, which is low.
# Relative, because model answers run from three content words ("the food contains sugar")
# to forty: an absolute floor of four flagged a third of the correct answers in public
# short-answer datasets, whose references are one short sentence.
TOO_SHORT_MAX_WORDS = 2
TOO_SHORT_REFERENCE_FRACTION = 0.15

# too_long: a reference answer already states every idea the rubric rewards, so an answer
# several times longer than the longest one is mostly text the rubric cannot reward. The
# absolute floor keeps rubrics with one-line references from flagging an ordinary paragraph.
TOO_LONG_REFERENCE_MULTIPLE = 4.0
TOO_LONG_MIN_WORDS = 200

# keyword_stuffing: with the Snowball list, function words make up 40-50% of running
# English and 20-35% of terse but grammatical answers; sentences cannot be built without
# them. A bare list of terms has 0-10%. Under 20%, a list split into short items by commas,
# semicolons or line breaks (items averaging at most 2.5 words, at least five of them) is
# caught even when some items carry a stop word ("worry about the public"). Three rubric
# phrasings is the least that makes a list worth flagging: fewer could not earn marks anyway.
# Noun phrases rarely run past five content words in a row ("U.S. President John F.
# Kennedy" is six with its initials), so eight in a row is a list, commas or not. Sentences
# need several kinds of function word (articles, prepositions, pronouns, auxiliaries): five
# or more stop words of at most two kinds is a list padded with "and" or "the".
STUFFING_MAX_STOP_SHARE = 0.10
STUFFING_LIST_MAX_STOP_SHARE = 0.20
STUFFING_LIST_MIN_ITEMS = 5
STUFFING_LIST_MAX_MEAN_ITEM_WORDS = 2.5
STUFFING_MIN_CONTENT_RUN = 8
STUFFING_PADDING_MIN_STOP_WORDS = 5
STUFFING_PADDING_MAX_STOP_KINDS = 2
STUFFING_MIN_PHRASINGS = 3

# copies_question: an answer that restates half or more of the question's content words,
# adds fewer words of its own than the too_short limit would ask of a whole answer (at most
# four), and none of the words the reference answers add to the question, is the question
# given back, verbatim or paraphrased. Short correct answers reuse the question's words
# too ("the compiler differentiates overloaded functions by their signature") but add the
# reference's own word ("signature"), which keeps them out.
COPY_MIN_PROMPT_COVERAGE = 0.5
COPY_MIN_CONTENT_WORDS = 2
COPY_MAX_OWN_WORDS = 4
# When the references themselves add fewer content words than this to the question ("the
# switch affects the bulb if they are in the same path"), answering and restating the
# question look the same, so nothing is flagged.
COPY_MIN_REFERENCE_OWN_WORDS = 2

# off_topic: any answer about the question reuses some of its topic's words (names, places,
# the event, what happened), whatever its wording; text on another subject shares only a
# few general words ("use", "help", "process") with it. So the rule is: under a fifth of
# the answer's distinct content words occur in the question's own material. Two vetoes
# keep a related answer from being flagged whatever its wording: coverage above a quarter
# (one common word can meet one criterion by chance; an unrelated text does not meet two),
# and similarity of half or more (on the engine's square-root scale, a quarter of the
# reference's weighted vocabulary; on raw cosine, more still), far above chance overlap.
OFF_TOPIC_MAX_VOCABULARY_SHARE = 0.2
# One word more or less moves the share of a short answer by 10% or more; an essay on
# another subject is long, and a short unrelated answer already scores near zero.
OFF_TOPIC_MIN_CONTENT_WORDS = 10
OFF_TOPIC_MAX_COVERAGE = 0.25
OFF_TOPIC_MAX_SIMILARITY = 0.5
# The rule needs the topic's vocabulary: a question known only by a one-line prompt and a
# one-line reference (a dozen stems) cannot tell a different wording from another subject.
OFF_TOPIC_MIN_VOCABULARY = 40

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

# repetition: an honest writer may paste a sentence twice by mistake, never three times or
# two sentences twice each, hence two extra copies. Outside set names ("the Cuban Missile
# Crisis") word triples do not recur in prose: even a long answer repeats under 5% of them,
# so 30% repeated triples means about a third of the text is copied from itself (a whole
# answer pasted twice counts; one sentence doubled in a paragraph does not). zlib finds
# copies at any scale: prose of 200+ characters compresses to 45-65% of its size, text
# that is mostly copies of itself to well under a third.
REPETITION_MIN_EXTRA_SENTENCES = 2
REPETITION_MIN_SENTENCE_WORDS = 3
REPETITION_MIN_WORDS = 4
REPETITION_MIN_TRIGRAM_SHARE = 0.3
REPETITION_MIN_CHARS_FOR_COMPRESSION = 200
REPETITION_MAX_COMPRESSION_RATIO = 0.3

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

# echoes_feedback: the feedback of a question (hit and miss texts, hints, summaries,
# advisory messages) is text a student may have been shown. Four words in a row taken from
# it (stems compared, numbers skipped so "You scored 2.5 out of 10" matches any score) are
# a copy: outside set phrases, prose shares word 4-grams with an unrelated text of a few
# hundred words almost never, and the set phrases a feedback text shares with honest answers
# are the question's own ("the Cuban Missile Crisis"), so 4-grams that also occur in the
# question's material (prompt, references, phrasings, background) are not counted. A
# copied run (overlapping shared 4-grams) with fewer than two content words ("that you did
# not", "it needs to be") is ordinary English, not a copy. Copied
# words are removed before scoring whatever their number (so they never earn marks); the
# answer is flagged when it copies two 4-grams' worth of words, or one when that is half of
# everything it says.
ECHO_SHINGLE_WORDS = 4
ECHO_MIN_CONTENT_WORDS = 2
ECHO_MIN_WORDS = 2 * ECHO_SHINGLE_WORDS
ECHO_MIN_SHARE = 0.5

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
# Any word of any listed language, elided forms included: most words are in none of them.
_ANY_FUNCTION_WORD = frozenset().union(*FOREIGN_FUNCTION_WORDS.values())
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_LIST_BREAK_RE = re.compile(r"[,;\n\u2022\u00b7|]+|(?<=[.!?])\s+|(?:^|\s)[-*]\s")


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What the detectors know about one question, computed once per rubric.

    ``prompt_stems``: content stems of the question. ``vocabulary``: content stems of all
    of the question's material (prompt, references, phrasings, background). ``phrasings``:
    the distinct stem sequences of rubric phrasings. ``longest_reference_words`` and
    ``shortest_reference_content_words`` set the length limits.
    """

    prompt_stems: frozenset[str]
    vocabulary: frozenset[str]
    phrasings: tuple[tuple[str, ...], ...]
    longest_reference_words: int
    shortest_reference_content_words: int
    # Content stems of the shortest reference that are not in the prompt (its own words).
    shortest_reference_own_words: int = 0
    # Every content stem the reference answers add to the question.
    reference_own_stems: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        prompt: str,
        reference_answers: Sequence[str],
        phrasings: Sequence[str],
        background: Sequence[str] = (),
    ) -> AnswerContext:
        """Stem the question's material; ``RubricError`` if there is no reference answer."""
        references = [reference for reference in reference_answers if reference.strip()]
        if not references:
            raise RubricError(
                "reference_answers", "at least one non-empty reference answer is required"
            )
        material = [prompt, *references, *phrasings, *background]
        stemmed_phrasings = (tuple(content_stems(phrasing)) for phrasing in phrasings)
        return cls(
            prompt_stems=frozenset(content_stems(prompt)),
            vocabulary=frozenset(stem for text in material for stem in content_stems(text)),
            phrasings=tuple(dict.fromkeys(stems for stems in stemmed_phrasings if stems)),
            longest_reference_words=max(len(tokenize(reference)) for reference in references),
            shortest_reference_content_words=min(
                len(content_stems(reference)) for reference in references
            ),
            shortest_reference_own_words=min(
                len(set(content_stems(reference)) - set(content_stems(prompt)))
                for reference in references
            ),
            reference_own_stems=frozenset(
                stem for reference in references for stem in content_stems(reference)
            )
            - frozenset(content_stems(prompt)),
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    """One answer, tokenised once for all detectors."""

    text: str
    tokens: tuple[Token, ...]
    content: tuple[Token, ...]
    stems: frozenset[str]

    @classmethod
    def of(cls, text: str, tokens: Sequence[Token] | None = None) -> _Answer:
        tokens = tuple(tokenize(text) if tokens is None else tokens)
        content = tuple(token for token in tokens if not token.is_stop)
        return cls(text, tokens, content, frozenset(token.stem for token in content))

    @property
    def stop_share(self) -> float:
        return _share(len(self.tokens) - len(self.content), len(self.tokens))


# --- Echo of the question's feedback ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Echo:
    """Where an answer copies feedback text: character ranges ``start:end`` of the answer,
    how many of its words lie in them, and how many words it has (numbers not counted)."""

    spans: tuple[tuple[int, int], ...]
    words: int
    total: int

    @property
    def flagged(self) -> bool:
        """Enough copied words to call the answer an echo of the feedback."""
        return self.words >= ECHO_MIN_WORDS or (
            self.words >= ECHO_SHINGLE_WORDS and _share(self.words, self.total) >= ECHO_MIN_SHARE
        )

    def strip(self, answer: str) -> str:
        """``answer`` with the copied ranges blanked out. Same length, so every offset into
        it (spans of matched words) is an offset into the original answer too."""
        if not self.spans:
            return answer
        pieces = []
        last = 0
        for start, end in self.spans:
            pieces += [answer[last:start], " " * (end - start)]
            last = end
        pieces.append(answer[last:])
        return "".join(pieces)


NO_ECHO = Echo((), 0, 0)


def _echo_keys(tokens: Sequence[Token]) -> tuple[list[str], list[bool], list[int]]:
    """Stems, stop-word flags and token indices of the words that echo matching compares:
    numbers are skipped, so feedback with any score in it matches its template."""
    stems: list[str] = []
    stops: list[bool] = []
    where: list[int] = []
    for index, token in enumerate(tokens):
        if not token.text.isdigit():
            stems.append(token.stem)
            stops.append(token.is_stop)
            where.append(index)
    return stems, stops, where


def _shingles(text: str) -> set[tuple[str, ...]]:
    stems = _echo_keys(tokenize(text))[0]
    size = ECHO_SHINGLE_WORDS
    return {tuple(stems[i : i + size]) for i in range(len(stems) - size + 1)}


@dataclass(frozen=True, slots=True)
class FeedbackEcho:
    """The word 4-grams of a question's feedback texts that its material does not contain.

    Built once per rubric (``build``); ``find(tokens)`` is pure and linear in the answer.
    """

    shingles: frozenset[tuple[str, ...]]

    @classmethod
    def build(cls, feedback: Iterable[str], material: Iterable[str]) -> FeedbackEcho:
        own = set().union(*(_shingles(text) for text in material))
        copied = set().union(*(_shingles(text) for text in feedback))
        return cls(frozenset(copied - own))

    def find(self, tokens: Sequence[Token]) -> Echo:
        """The ranges of the answer (``tokens``: ``tokenize(answer)``) copied from feedback:
        runs of overlapping shared 4-grams with at least two content words."""
        stems, stops, where = _echo_keys(tokens)
        size = ECHO_SHINGLE_WORDS
        shingles = self.shingles
        copied = [False] * len(stems)
        for i in range(len(stems) - size + 1):
            if tuple(stems[i : i + size]) in shingles:
                copied[i : i + size] = [True] * size
        spans: list[tuple[int, int]] = []
        words = 0
        run_start: int | None = None
        for position, is_copied in enumerate([*copied, False]):
            if is_copied and run_start is None:
                run_start = position
            elif not is_copied and run_start is not None:
                content = position - run_start - sum(stops[run_start:position])
                if content >= ECHO_MIN_CONTENT_WORDS:
                    spans.append((tokens[where[run_start]].start, tokens[where[position - 1]].end))
                    words += position - run_start
                run_start = None
        return Echo(tuple(spans), words, len(stems))


def assess(
    answer: str,
    context: AnswerContext,
    *,
    similarity: float,
    coverage: float,
    tokens: Sequence[Token] | None = None,
    echo: Echo = NO_ECHO,
) -> tuple[Advisory, ...]:
    """Advisories for ``answer``, in ``ADVISORY_CODES`` order; empty when nothing is wrong.

    ``similarity`` is the engine's 0..1 TF-IDF similarity of the answer to the nearest
    reference (raw cosine or the engine's square-root scale: only its low end is used) and
    ``coverage`` the 0..1 weighted share of rubric criteria met. An answer that is not in
    English gets ``not_english`` alone, since every other detector assumes English.
    ``off_topic`` is left out when a more specific advisory already explains the answer.
    ``tokens``: ``tokenize(answer)``, when the caller has it already (saves tokenising twice).
    ``echo``: what ``FeedbackEcho.find`` found in the answer as submitted; ``answer`` itself
    is then the text that is scored, with the copied ranges already stripped.
    """
    if not (0.0 <= similarity <= 1.0 and 0.0 <= coverage <= 1.0):
        raise ValueError(f"similarity and coverage must be in 0..1, got {similarity}, {coverage}")
    parsed = _Answer.of(answer, tokens)
    echoed = (ECHOES_FEEDBACK,) if echo.flagged else ()
    if _is_not_english(parsed):
        return (NOT_ENGLISH, *echoed)
    found: list[Advisory] = [*echoed]
    if _is_gibberish(parsed):
        found.append(GIBBERISH)
    if _is_repetitive(parsed):
        found.append(REPETITION)
    # A restated question has no words of its own either: say the more specific thing.
    if _copies_question(parsed, context):
        found.append(COPIES_QUESTION)
    elif _is_too_short(parsed, context):
        found.append(TOO_SHORT)
    if TOO_SHORT not in found and _is_keyword_list(parsed, context):
        found.append(KEYWORD_STUFFING)
    if not found and _is_off_topic(parsed, context, similarity=similarity, coverage=coverage):
        found.append(OFF_TOPIC)
    if _is_too_long(parsed, context):
        found.append(TOO_LONG)
    return tuple(found)


def apply_caps(score: float, advisories: Iterable[Advisory]) -> float:
    """``score`` lowered to the smallest cap among ``advisories`` (unchanged if none)."""
    return min([score, *(a.cap for a in advisories if a.cap is not None)])


# --- Detectors ------------------------------------------------------------------------


def _is_not_english(answer: _Answer) -> bool:
    """Mostly non-Latin letters, or enough words to show another language's function words
    or diacritics. Too few words to judge means English is assumed."""
    # ASCII letters are all Latin: only other text can have a non-Latin share.
    if not answer.text.isascii():
        letters = [char for char in answer.text if char.isalpha()]
        non_latin = sum(not _is_latin(char) for char in letters)
        if letters and _share(non_latin, len(letters)) >= NON_LATIN_MIN_LETTER_SHARE:
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
    if foreign > english and _share(foreign, len(tokens)) >= FOREIGN_MIN_FUNCTION_SHARE:
        return True
    # NFKC and case folding keep ASCII text ASCII, so only other text has accented words.
    accented = 0 if answer.text.isascii() else sum(not t.text.isascii() for t in tokens)
    return (
        _share(accented, len(tokens)) >= DIACRITIC_MIN_WORD_SHARE
        and answer.stop_share < DIACRITIC_MAX_ENGLISH_STOP_SHARE
    )


@lru_cache(maxsize=4096)
def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def _is_function_word(word: str, vocabulary: frozenset[str]) -> bool:
    """``word`` is listed, or starts with a listed elision ("l'autre", "dell'opinione")."""
    elided, apostrophe, _ = word.partition("'")
    return word in vocabulary or (bool(apostrophe) and f"{elided}'" in vocabulary)


def _is_gibberish(answer: _Answer) -> bool:
    """Many judged words break the shape of English words, or the letters lack vowels.

    Judged words are plain ASCII letters of four or more, written as prose writes words
    (lower case, or capitalised): acronyms (USSR, SALT), identifiers (xPtr, bPtr) and words
    touching code symbols (``*xPtr``, ``&x[1]``) are often vowel-less or unusual, and are
    not what gibberish is.
    """
    judged = [
        token.text
        for token in answer.tokens
        if len(token.text) >= GIBBERISH_MIN_WORD_LETTERS
        and token.text.isascii()
        and token.text.isalpha()
        and _written_as_prose(answer.text, token.start, token.end)
    ]
    nonwords = sum(not _looks_like_word(word) for word in judged)
    if nonwords >= GIBBERISH_MIN_NONWORDS and (
        _share(nonwords, len(judged)) >= GIBBERISH_MIN_NONWORD_SHARE
    ):
        return True
    letters = "".join(word for word in judged if len(word) >= GIBBERISH_VOWEL_WORD_LETTERS)
    vowels = sum(letters.count(vowel) for vowel in _VOWELS)
    sample = len(letters) >= GIBBERISH_MIN_VOWEL_LETTERS or (
        len(judged) == 1 and len(letters) >= GIBBERISH_MIN_SINGLE_WORD_LETTERS
    )
    return sample and _share(vowels, len(letters)) < GIBBERISH_MAX_VOWEL_SHARE


_CODE_SYMBOLS = frozenset("*&_[](){};=<>#$%^~`/\\")


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


def _is_repetitive(answer: _Answer) -> bool:
    """A sentence pasted again and again, word triples recurring, or text that zlib can
    shrink far below what prose allows."""
    if _extra_sentence_copies(answer.text, answer.tokens) >= REPETITION_MIN_EXTRA_SENTENCES:
        return True
    words = [token.text for token in answer.tokens]
    if len(words) >= REPETITION_MIN_WORDS:
        trigrams = list(zip(words, words[1:], words[2:], strict=False))
        repeated = len(trigrams) - len(set(trigrams))
        if _share(repeated, len(trigrams)) >= REPETITION_MIN_TRIGRAM_SHARE:
            return True
    raw = " ".join(normalise(answer.text).split()).encode("utf-8")
    if len(raw) < REPETITION_MIN_CHARS_FOR_COMPRESSION:
        return False
    return len(zlib.compress(raw, 9)) / len(raw) < REPETITION_MAX_COMPRESSION_RATIO


def _extra_sentence_copies(text: str, tokens: Sequence[Token] | None = None) -> int:
    """How many sentences (of a few words or more) repeat an earlier one word for word.

    ``tokens``: ``tokenize(text)``, split by sentence instead of tokenising each sentence.
    """
    if tokens is None:
        tokens = tokenize(text)
    words = [t.text for t in tokens]
    counts = Counter(
        tuple(words[start:end])
        for start, end in _split_tokens(text, tokens, _SENTENCE_BREAK_RE)
        if end - start >= REPETITION_MIN_SENTENCE_WORDS
    )
    return sum(count - 1 for count in counts.values())


def _split_tokens(
    text: str, tokens: Sequence[Token], separator: re.Pattern[str]
) -> list[tuple[int, int]]:
    """For each part of ``separator.split(text)``, the slice ``start:end`` of ``tokens``
    that ``tokenize(part)`` would give. The separators (whitespace, punctuation, bullets)
    never occur inside a word and the word pattern looks neither behind nor ahead, so every
    token of the text lies in one part, and a part's tokens are exactly those that
    tokenising it alone would give."""
    parts = []
    start = 0
    index = 0
    count = len(tokens)
    for match in separator.finditer(text):
        cut = match.start()
        while index < count and tokens[index].start < cut:
            index += 1
        parts.append((start, index))
        start = index
    parts.append((start, count))
    return parts


def _is_too_short(answer: _Answer, context: AnswerContext) -> bool:
    """Too few distinct content words to carry the reference's content (distinct, so
    pasting one word many times does not help)."""
    return len(answer.stems) < _words_needed(context.shortest_reference_content_words)


def _own_words(answer: _Answer, context: AnswerContext) -> int:
    """Distinct content words that are not the question's."""
    return len(answer.stems - context.prompt_stems)


def _words_needed(reference_words: int) -> int:
    needed = math.ceil(TOO_SHORT_REFERENCE_FRACTION * reference_words)
    return max(1, min(TOO_SHORT_MAX_WORDS, needed))


def _copies_question(answer: _Answer, context: AnswerContext) -> bool:
    """The answer restates much of the question and adds too little of its own."""
    restated = len(answer.stems & context.prompt_stems)
    own = answer.stems - context.prompt_stems
    needed = min(
        COPY_MAX_OWN_WORDS,
        max(1, math.ceil(TOO_SHORT_REFERENCE_FRACTION * context.shortest_reference_own_words)),
    )
    return (
        len(context.reference_own_stems) >= COPY_MIN_REFERENCE_OWN_WORDS
        and len(answer.stems) >= COPY_MIN_CONTENT_WORDS
        and len(own) < needed
        and not own & context.reference_own_stems
        and _share(restated, len(context.prompt_stems)) >= COPY_MIN_PROMPT_COVERAGE
    )


def _is_keyword_list(answer: _Answer, context: AnswerContext) -> bool:
    """Several rubric phrasings, and no sentences around them."""
    covered = answer.stems.issuperset
    hits = 0
    for stems in context.phrasings:
        if covered(stems):
            hits += 1
            if hits >= STUFFING_MIN_PHRASINGS:  # enough: the rest cannot change the answer
                return _lacks_sentences(answer)
    return False


def _lacks_sentences(answer: _Answer) -> bool:
    """Almost no function words; or few, with the words laid out as a list (short items, or
    a long run of content words); or function words of only one or two kinds."""
    stop_share = answer.stop_share
    if stop_share <= STUFFING_MAX_STOP_SHARE:
        return True
    if stop_share < STUFFING_LIST_MAX_STOP_SHARE:
        items = [
            size
            for start, end in _split_tokens(answer.text, answer.tokens, _LIST_BREAK_RE)
            if (size := end - start)
        ]
        if (
            len(items) >= STUFFING_LIST_MIN_ITEMS
            and sum(items) / len(items) <= STUFFING_LIST_MAX_MEAN_ITEM_WORDS
        ):
            return True
        if _longest_content_run(answer.tokens) >= STUFFING_MIN_CONTENT_RUN:
            return True
    stop_words = [token.text for token in answer.tokens if token.is_stop]
    return (
        len(stop_words) >= STUFFING_PADDING_MIN_STOP_WORDS
        and len(set(stop_words)) <= STUFFING_PADDING_MAX_STOP_KINDS
    )


def _longest_content_run(tokens: Sequence[Token]) -> int:
    longest = current = 0
    for token in tokens:
        current = 0 if token.is_stop else current + 1
        longest = max(longest, current)
    return longest


def _is_off_topic(
    answer: _Answer, context: AnswerContext, *, similarity: float, coverage: float
) -> bool:
    """Hardly any of the question's own vocabulary, no real rubric idea, low similarity."""
    if similarity >= OFF_TOPIC_MAX_SIMILARITY or coverage >= OFF_TOPIC_MAX_COVERAGE:
        return False
    if len(answer.stems) < OFF_TOPIC_MIN_CONTENT_WORDS:
        return False
    if len(context.vocabulary) < OFF_TOPIC_MIN_VOCABULARY:
        return False
    known = len(answer.stems & context.vocabulary)
    return _share(known, len(answer.stems)) < OFF_TOPIC_MAX_VOCABULARY_SHARE


def _is_too_long(answer: _Answer, context: AnswerContext) -> bool:
    """Far longer than the fullest model answer, and long in absolute terms."""
    limit = max(TOO_LONG_MIN_WORDS, TOO_LONG_REFERENCE_MULTIPLE * context.longest_reference_words)
    return len(answer.tokens) > limit


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
