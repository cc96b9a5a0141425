"""Rubrics and answers built to make the engine work as hard as the limits allow.

Shared by the pure engine tests and the HTTP tests of bounded work.
"""

from __future__ import annotations

import itertools
from typing import Any

from service.domain.submissions.schemas import MAX_ANSWER_CHARS
from service.scoring import limits
from service.scoring.text import STOP_WORDS, stem

# A phrasing of thirteen copies of one word and a final different word, against an answer of
# sixty copies plus that word: a search that backtracks tries ~3^12 ways per start.
REPEATED = "secret"
FINAL = "talks"
ADVERSARIAL_PHRASING = " ".join([REPEATED] * 13 + [FINAL])
ADVERSARIAL_ANSWER = " ".join([REPEATED] * 60 + [FINAL])
# The same words, but the final one out of reach: no match, every start explored.
ADVERSARIAL_MISS = " ".join([REPEATED] * 60 + ["quietly"] * 4 + [FINAL])
# Where the match is: the earliest start from which thirteen copies, at most two words
# apart, still reach the copy just before the final word (token i starts at 7 * i).
ADVERSARIAL_MATCH = (*range(21, 58, 3), 60)


def distinct_words(count: int) -> list[str]:
    """``count`` made-up content words with distinct Snowball stems, four letters long so
    that spelling correction (from five letters) never reads one as another."""
    consonants = "bdfgklmnprtvz"
    words = []
    for letters in itertools.product(consonants, "aiou", consonants, "aiou"):
        word = "".join(letters)
        if stem(word) == word and word not in STOP_WORDS:
            words.append(word)
        if len(words) == count:
            return words
    raise AssertionError("not enough words")


def adversarial_question(question_id: str = "adversarial") -> dict[str, Any]:
    """A rubric document whose one criterion is the adversarial phrasing."""
    return {
        "id": question_id,
        "title": "Repeated words",
        "prompt": "What happened?",
        "max_points": 10,
        "reference_answers": [ADVERSARIAL_ANSWER],
        "criteria": [
            {
                "id": "repeated",
                "description": "Repeats a word",
                "phrasings": [ADVERSARIAL_PHRASING],
                "feedback": {"hit": "Yes.", "miss": "No."},
            }
        ],
    }


def _text(words: list[str], chars: int) -> str:
    """Words repeated to exactly ``chars`` characters (the last one cut to fit)."""
    text = " ".join(itertools.islice(itertools.cycle(words), chars // 2 + 1))
    return text[:chars]


def rubric_at_every_limit(*, graded: bool = True) -> tuple[dict[str, Any], str]:
    """A rubric document at every documented limit, and an answer at the answer limit that
    makes every one of its phrasings search the whole answer.

    Each criterion's first phrasing is a word of the first reference (so it can score full
    marks) that the answer lacks; every other phrasing is the repeated word, as many times
    as a phrasing may hold, and then a word that occurs in the answer, but only before all
    the repeated words, so every stem is present and no match exists.
    """
    criteria_count = limits.MAX_CRITERIA
    per_criterion = limits.MAX_PHRASINGS_PER_CRITERION
    words = distinct_words(criteria_count + per_criterion + 40)
    own, final, filler = (
        words[:criteria_count],
        words[criteria_count : criteria_count + per_criterion],
        words[criteria_count + per_criterion :],
    )
    repeated = [REPEATED] * (limits.MAX_PHRASING_WORDS - 1)
    criteria = [
        {
            "id": f"c{i}",
            "description": _text(filler, limits.MAX_DESCRIPTION_CHARS),
            "phrasings": [own[i]] + [" ".join([*repeated, last]) for last in final[1:]],
            "feedback": {
                "hit": _text(filler, limits.MAX_FEEDBACK_CHARS),
                "miss": _text(filler, limits.MAX_FEEDBACK_CHARS),
            },
        }
        for i in range(criteria_count)
    ]
    first = " ".join(own)
    references = [first + " " + _text(filler, limits.MAX_REFERENCE_CHARS - len(first) - 1)]
    references += [
        _text([REPEATED, *filler], limits.MAX_REFERENCE_CHARS)
        for _ in range(limits.MAX_REFERENCE_ANSWERS - 1)
    ]
    lines = [_text(filler[i:] + filler[:i], 99) for i in range(len(filler))]
    background = "\n".join(itertools.islice(itertools.cycle(lines), 500))
    document: dict[str, Any] = {
        "id": "every-limit",
        "title": _text(filler, limits.MAX_TITLE_CHARS),
        "prompt": _text(filler, limits.MAX_PROMPT_CHARS),
        "max_points": 10,
        "reference_answers": references,
        "background": background[: limits.MAX_BACKGROUND_CHARS],
        "criteria": criteria,
    }
    head = " ".join(final) + " "
    answer = head + _text([REPEATED], MAX_ANSWER_CHARS - len(head))
    if graded:
        size = limits.MAX_GRADED_TOTAL_CHARS // limits.MAX_GRADED_ANSWERS
        document["graded_answers"] = [
            {"answer": _text([REPEATED, *filler[i % 7 :]], size), "points": i % 11}
            for i in range(limits.MAX_GRADED_ANSWERS)
        ]
    return document, answer
