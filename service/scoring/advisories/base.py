"""What every detector shares: the ``Advisory`` record, what is known about the question
(``AnswerContext``) and about the answer (``Answer``), and two small helpers."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.scoring.errors import RubricError
from service.scoring.language import ENGLISH, QuestionLanguage
from service.scoring.text import Token, content_stems, tokenize


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


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What the detectors know about one question, computed once per rubric.

    ``prompt_stems``: content stems of the question. ``vocabulary``: content stems of all
    of the question's material (prompt, references, phrasings, background). ``phrasings``:
    the distinct stem sequences of rubric phrasings. ``longest_reference_words`` and
    ``shortest_reference_content_words`` set the length limits. ``language``: the language
    answers are expected in (given by the rubric, or read from the prompt and references).
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
    language: QuestionLanguage = ENGLISH
    # ``phrasings`` as sets, by their first stem: a phrasing can only be covered by an answer
    # that has its first stem, so ``is_keyword_list`` looks at those alone.
    phrasings_by_head: dict[str, tuple[frozenset[str], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_head: dict[str, list[frozenset[str]]] = {}
        for stems in self.phrasings:
            by_head.setdefault(stems[0], []).append(frozenset(stems))
        heads = {head: tuple(sets) for head, sets in by_head.items()}
        object.__setattr__(self, "phrasings_by_head", heads)

    @classmethod
    def build(
        cls,
        *,
        prompt: str,
        reference_answers: Sequence[str],
        phrasings: Sequence[str],
        background: Sequence[str] = (),
        language: str | None = None,
    ) -> AnswerContext:
        """Stem the question's material; ``RubricError`` if there is no reference answer.

        ``language``: the question's language (ISO 639-1), or None to infer it from the
        prompt and references (English unless the identifier is sure; background text is
        left out: it may be a source in another language than the question)."""
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
            language=_question_language([prompt, *references], language),
        )


def _question_language(texts: Sequence[str], language: str | None) -> QuestionLanguage:
    try:
        return QuestionLanguage.of(texts, language)
    except ValueError as exc:
        raise RubricError("language", str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer, tokenised once for all detectors."""

    text: str
    tokens: tuple[Token, ...]
    content: tuple[Token, ...]
    stems: frozenset[str]

    @classmethod
    def of(cls, text: str, tokens: Sequence[Token] | None = None) -> Answer:
        tokens = tuple(tokenize(text) if tokens is None else tokens)
        content = tuple(token for token in tokens if not token.is_stop)
        return cls(text, tokens, content, frozenset(token.stem for token in content))

    @property
    def stop_share(self) -> float:
        return share(len(self.tokens) - len(self.content), len(self.tokens))


def split_tokens(
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
    starts: list[int] | None = None  # token starts (non-decreasing), built at the first cut
    for match in separator.finditer(text):
        if starts is None:
            starts = [token.start for token in tokens]
        # The first token at or after ``index`` that starts at or after the cut.
        index = bisect_left(starts, match.start(), index)
        parts.append((start, index))
        start = index
    parts.append((start, count))
    return parts


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
