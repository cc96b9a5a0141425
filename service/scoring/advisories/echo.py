"""Echo: an answer that pastes back the question's feedback text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from service.scoring.advisories.base import Advisory, share
from service.scoring.text import Token, tokenize

ECHOES_FEEDBACK = Advisory(
    "echoes_feedback",
    "Your answer repeats the feedback text of this question instead of answering it. "
    "Feedback is there to guide you, not to be copied: copied sentences earn no marks. "
    "Answer in your own words. A teacher will check it.",
    cap=None,
    needs_review=True,
)

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
            self.words >= ECHO_SHINGLE_WORDS and share(self.words, self.total) >= ECHO_MIN_SHARE
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


def copied_runs(
    tokens: Sequence[Token], copied: list[bool], stops: list[bool], where: list[int]
) -> Echo:
    """The echo of ``copied`` (one flag per key of ``_echo_keys``): each run of copied
    keys with at least ECHO_MIN_CONTENT_WORDS content words, as a span of the answer."""
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
    return Echo(tuple(spans), words, len(copied))


@dataclass(frozen=True, slots=True)
class FeedbackEcho:
    """The word 4-grams of a question's feedback texts that its material does not contain.

    Built once per rubric (``build``); ``find(tokens)`` is pure and linear in the answer.
    """

    shingles: frozenset[tuple[str, ...]]
    # The first stems of the shingles: a copied run can only start at one of them.
    heads: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", frozenset(shingle[0] for shingle in self.shingles))

    @classmethod
    def build(cls, feedback: Iterable[str], material: Iterable[str]) -> FeedbackEcho:
        own = set().union(*(_shingles(text) for text in material))
        copied = set().union(*(_shingles(text) for text in feedback))
        return cls(frozenset(copied - own))

    def find(self, tokens: Sequence[Token]) -> Echo:
        """The ranges of the answer (``tokens``: ``tokenize(answer)``) copied from feedback:
        runs of overlapping shared 4-grams with at least two content words."""
        heads = self.heads
        if heads.isdisjoint([token.stem for token in tokens]):
            # The usual case, decided without building a shingle: no 4-gram can match, so
            # nothing is copied (the count skips numbers, as ``_echo_keys`` does).
            return Echo((), 0, sum(not token.text.isdigit() for token in tokens))
        stems, stops, where = _echo_keys(tokens)
        size = ECHO_SHINGLE_WORDS
        shingles = self.shingles
        copied = [False] * len(stems)
        for i in range(len(stems) - size + 1):
            if stems[i] in heads and tuple(stems[i : i + size]) in shingles:
                copied[i : i + size] = [True] * size
        return copied_runs(tokens, copied, stops, where)
