"""Cost per answer of the ``other_language`` detector, next to the ``not_english`` one it
replaced, timed side by side on the same answers in one run (one core).

    taskset -c 0 .venv/bin/python -m bench.language [ANSWERS.jsonl] [--runs 5] [--json out.json]

The answers: every answer of Mohler et al. (2011), ``shared/datasets/mohler2011``, by
default, each checked against its own question (the new detector with the question's
language as the service infers it). Per answer, the two detectors run alternately
(``--runs`` times each, the order swapped every run) and the fastest time of each is kept:
the figure is then the answer's own cost, not the machine's noise. The report gives the
median and mean over answers (microseconds), and how many answers each detector flags.
The new detector calls the identifier (tens of microseconds) only on answers long
enough and poor enough in the question language's function words to need it; the mean
shows that cost, the median the usual answer.

The old detector is kept below, verbatim from ``service/scoring/advisories/not_english.py``
as it was before it was deleted, only for this comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path
from types import MappingProxyType

from service.evaluate import load_rows
from service.scoring.advisories.base import Answer, share
from service.scoring.advisories.other_language import is_other_language
from service.scoring.language import QuestionLanguage
from service.scoring.text import STOP_WORDS

DEFAULT_ANSWERS = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mohler2011" / "answers.jsonl"
)

# --- The replaced detector (not_english), verbatim ---------------------------------------

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


# --- The benchmark -----------------------------------------------------------------------


def _fastest(function: Callable[[], bool], runs: int) -> tuple[float, bool]:
    best = float("inf")
    result = False
    for _ in range(runs):
        start = time.perf_counter_ns()
        result = function()
        best = min(best, (time.perf_counter_ns() - start) / 1000)
    return best, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("answers", nargs="?", type=Path, default=DEFAULT_ANSWERS)
    parser.add_argument("--runs", type=int, default=5, help="timings per answer (default 5)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    rows = load_rows(args.answers, include_excluded=True)
    languages: dict[str, QuestionLanguage] = {}
    for row in rows:
        if row.question_id not in languages:
            languages[row.question_id] = QuestionLanguage.of([row.question, *row.references])
    parsed = [(Answer.of(row.answer), languages[row.question_id]) for row in rows]
    # Warm up: the identifier's model is loaded on first use (not part of an answer's cost).
    for answer, language in parsed[:50]:
        is_other_language(answer, language)
        is_not_english(answer)
    times: dict[str, list[float]] = {"not_english (old)": [], "other_language (new)": []}
    flagged = dict.fromkeys(times, 0)
    examples: dict[str, list[str]] = {name: [] for name in times}
    for answer, language in parsed:
        new = _fastest(partial(is_other_language, answer, language), args.runs)
        old = _fastest(partial(is_not_english, answer), args.runs)
        for name, (micros, result) in zip(times, (old, new), strict=True):
            times[name].append(micros)
            flagged[name] += result
            if result:
                examples[name].append(answer.text)
    figures = {
        name: {
            "median_us": statistics.median(values),
            "mean_us": statistics.fmean(values),
            "p99_us": sorted(values)[int(0.99 * (len(values) - 1))],
            "flagged": flagged[name],
        }
        for name, values in times.items()
    }
    lines = [
        f"language detectors: {len(parsed)} answers of {args.answers.name}, "
        f"fastest of {args.runs} timings each",
        f"python {platform.python_version()}, {platform.machine()}",
        "",
        f"{'detector':<24}{'median us':>11}{'mean us':>10}{'p99 us':>10}{'flagged':>9}",
        *(
            f"{name:<24}{f['median_us']:>11.1f}{f['mean_us']:>10.1f}{f['p99_us']:>10.1f}"
            f"{f['flagged']:>9}"
            for name, f in figures.items()
        ),
        *(f"  {name} flags: {text!r}" for name, texts in examples.items() for text in texts),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
