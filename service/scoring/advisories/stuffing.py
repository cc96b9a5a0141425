"""keyword_stuffing: a list of the rubric's phrasings with no sentences around them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.scoring.advisories.base import Advisory, Answer, AnswerContext, split_tokens
from service.scoring.text import Token

KEYWORD_STUFFING = Advisory(
    "keyword_stuffing",
    "Your answer looks like a list of keywords. Write full sentences that explain how the "
    "ideas connect.",
    cap=0.4,
    needs_review=True,
)

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

_LIST_BREAK_RE = re.compile(r"[,;\n\u2022\u00b7|]+|(?<=[.!?])\s+|(?:^|\s)[-*]\s")


def is_keyword_list(answer: Answer, context: AnswerContext) -> bool:
    """Several rubric phrasings, and no sentences around them."""
    stems = answer.stems
    covered = stems.issuperset
    by_head = context.phrasings_by_head
    hits = 0
    # Each phrasing is listed under its first stem only, so none is counted twice; only the
    # count matters, not the order phrasings are met in.
    for head in stems:
        for phrasing in by_head.get(head, ()):
            if covered(phrasing):
                hits += 1
                if hits >= STUFFING_MIN_PHRASINGS:  # enough: the rest cannot change it
                    return _lacks_sentences(answer)
    return False


def _lacks_sentences(answer: Answer) -> bool:
    """Almost no function words; or few, with the words laid out as a list (short items, or
    a long run of content words); or function words of only one or two kinds."""
    stop_share = answer.stop_share
    if stop_share <= STUFFING_MAX_STOP_SHARE:
        return True
    if stop_share < STUFFING_LIST_MAX_STOP_SHARE:
        items = [
            size
            for start, end in split_tokens(answer.text, answer.tokens, _LIST_BREAK_RE)
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
