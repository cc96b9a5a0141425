"""The fast scoring path gives exactly what the straightforward one gives.

Per-answer scoring avoids scikit-learn's ``transform`` (``TfidfSpace``), scans the answer
once for all criteria (``_Matcher``), tokenises once, memoises per word, and lets the
advisories reuse the tokens. Each shortcut is compared here with the plain computation it
replaces — scikit-learn itself, ``match_criterion``, ``reference_coverage``, and the
original tokenising/splitting code kept below as references — on many answers: the seed
rubrics' references and background, shuffled paraphrases, seeded word salads from the
rubric vocabulary, misspellings, empty and odd-whitespace strings, and unicode. Floats are
compared with ``==``: the fast path is meant to be identical to the last bit.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from service.domain.rubrics.service import load_rubric_file, to_spec
from service.scoring import GradedAnswer, Grader, ScoreBreakdown
from service.scoring.advisories import (
    assessment,
    base,
    gibberish,
    repetition,
    stuffing,
)
from service.scoring.advisories.echo import (
    ECHO_SHINGLE_WORDS,
    Echo,
    FeedbackEcho,
    _echo_keys,
    copied_runs,
)
from service.scoring.feedback import feedback_texts
from service.scoring.keywords import match_criterion, reference_coverage
from service.scoring.matching import Found as _Found
from service.scoring.matching import Matcher as _Matcher
from service.scoring.similarity import (
    _LOG_TABLE_SIZE,
    CharSimilarityScorer,
    NeighbourIndex,
    SimilarityScorer,
    StemAnalyzer,
    TfidfSpace,
    _char_wb_ngrams,
    _log_plus_one,
)
from service.scoring.spelling import SpellingCorrector
from service.scoring.text import (
    _CLAUSE_BREAK_RE,
    _CLAUSE_BREAK_WORDS,
    _WORD_RE,
    NEGATION_REACH,
    STOP_WORDS,
    Token,
    content_stems,
    is_negator,
    normalise,
    stem,
    tokenize,
)
from tests.conftest import RUBRICS_DIR, SEED_QUESTION_IDS

EDGE_CASES = (
    "",
    " ",
    " \n\t\u00a0\u2003 ",
    "...",
    "the of and to",
    "a b c d e f g",
    "x",
    "\ufb01 \ufb02 \uff21\uff22\uff23 full-width \uff2b\uff45\uff4e\uff4e\uff45\uff44\uff59",
    "Kennedy\u2019s secret backchannel didn't escalate",
    "\u041b\u0438\u0434\u0435\u0440\u044b \u0434\u043e\u0433\u043e\u0432\u043e\u0440"
    "\u0438\u043b\u0438\u0441\u044c \u0442\u0430\u0439\u043d\u043e, \u0447\u0442\u043e"
    "\u0431\u044b \u0438\u0437\u0431\u0435\u0436\u0430\u0442\u044c \u0432\u043e\u0439"
    "\u043d\u044b",
    "Les dirigeants ont n\u00e9goci\u00e9 en secret avec les Sovi\u00e9tiques pour \u00e9viter la "
    "guerre nucl\u00e9aire et l'escalade de la crise",
    "\u65e5\u672c\u8a9e\u306e\u7b54\u3048 \u79d8\u5bc6\u306e\u4ea4\u6e09",
    "\u00e9migr\u00e9 na\u00efve caf\u00e9 co\u00f6perate r\u00e9sum\u00e9",
    "word\u00a0with\u2003odd\u2009spaces and\ttabs\n\nnewlines\x1c\x1d\x1e\x1fseparators\x85end",
    "not de-escalate, but calm; never negotiated without (secret) talks",
    "secret secret secret secret secret secret secret secret secret",
    "Backchannel. Backchannel talks. Backchannel talks helped.\nBackchannel talks helped. "
    "Backchannel talks helped. Backchannel talks helped!",
    "de-escalate, avoid war, secret talks, hotline, intentions, bluff, trust",
    "- secret talks\n- avoid war\n* hotline \u2022 bluff \u00b7 trust | calm",
    "asdfgh qwrtyp zxcvbn lkjhgf bcdfghjklm",
    "A" * 300,
    "USSR SALT 1962 13-day it's Kennedy's 1 2 3",
    "abcdefghijklmnopqrstuvwxyz " * 20,
)


def _seed_corpus(grader: Grader, rng: random.Random) -> list[str]:
    rubric = grader.rubric
    references = list(rubric.reference_answers)
    texts = [*references, *rubric.background, rubric.prompt]
    words = " ".join(texts).split()
    answers = list(texts)
    for reference in references:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", reference) if s]
        for _ in range(4):
            rng.shuffle(sentences)
            answers.append(" ".join(sentences))
    for _ in range(60):
        answers.append(" ".join(rng.sample(words, rng.randint(1, min(len(words), 120)))))
    for _ in range(20):  # misspellings: one letter dropped from most long words
        sample = rng.sample(words, rng.randint(3, 30))
        answers.append(
            " ".join(
                word[:k] + word[k + 1 :]
                if len(word) > 5 and (k := rng.randrange(len(word)))
                else word
                for word in sample
            )
        )
    for criterion in grader.criteria:
        answers += list(criterion.spec.phrasings)
        answers.append(" and not ".join(criterion.spec.phrasings))
    return answers + list(EDGE_CASES)


@pytest.fixture(scope="module")
def seeds() -> list[tuple[Grader, list[str]]]:
    rng = random.Random(5)
    out = []
    for question_id in SEED_QUESTION_IDS:
        grader = Grader(to_spec(load_rubric_file(RUBRICS_DIR / f"{question_id}.yaml")))
        out.append((grader, _seed_corpus(grader, rng)))
    return out


def _pairs(seeds: list[tuple[Grader, list[str]]]) -> Iterator[tuple[Grader, str]]:
    for grader, answers in seeds:
        for answer in answers:
            yield grader, answer


# --- TF-IDF: TfidfSpace against TfidfVectorizer.transform -----------------------------


def test_word_similarity_equals_sklearn_transform(seeds: list[tuple[Grader, list[str]]]) -> None:
    checked = 0
    for grader, answer in _pairs(seeds):
        scorer = grader.similarity
        assert isinstance(scorer, SimilarityScorer)
        stems = content_stems(answer)
        assert scorer.score(answer) == scorer.transform_score(answer), answer
        assert scorer.score(stems) == scorer.transform_score(stems), answer
        checked += 1
    assert checked > 500


def test_char_similarity_equals_sklearn_transform(seeds: list[tuple[Grader, list[str]]]) -> None:
    for grader, answer in _pairs(seeds):
        scorer = grader.char_similarity
        assert isinstance(scorer, CharSimilarityScorer)
        assert scorer.score(answer) == scorer.transform_score(answer), answer


def test_vector_equals_transform_row(seeds: list[tuple[Grader, list[str]]]) -> None:
    """Not only the similarities: the normalised vector itself, value for value."""
    for grader, answer in _pairs(seeds):
        for scorer in (grader.char_similarity, grader.similarity):
            assert scorer is not None
            space = scorer.space_
            if isinstance(scorer, CharSimilarityScorer):
                indices = space.char_wb_indices(answer, normalise, scorer.ngram_range)
            else:
                indices = space.word_indices(scorer.analyzer_(answer))
            row = scorer.vectorizer_.transform([answer])
            if indices.size == 0:
                assert row.nnz == 0
                continue
            features, values = space.vector(indices)
            assert features.tolist() == row.indices.tolist()
            assert values.tolist() == row.data.tolist(), answer


def test_python_similarities_equal_numpy_path(seeds: list[tuple[Grader, list[str]]]) -> None:
    """``TfidfSpace.python_similarities`` (plain floats) against the NumPy ``similarities``
    it stands in for, on word and character models (the engine uses it for words only, but
    character documents are long and repeat features, so they test the counting harder)."""
    checked = 0
    for grader, answer in _pairs(seeds):
        for scorer in (grader.similarity, grader.char_similarity):
            assert scorer is not None
            space = scorer.space_
            if isinstance(scorer, CharSimilarityScorer):
                indices = space.char_wb_indices(answer, normalise, scorer.ngram_range)
            else:
                indices = space.word_indices(scorer.analyzer_(answer))
            expected = space.similarities(indices)
            if expected is None:
                assert space.best(indices.tolist()) == 0.0
                continue
            assert space.python_similarities(indices.tolist()) == expected.tolist(), answer
            best = float(min(1.0, max(0.0, expected.max())))
            assert space.best(indices.tolist()) == best
            assert space.nearest(indices.tolist()) == int(np.argmax(expected))
            checked += 1
    assert checked > 1000


def test_log_table_equals_numpy_log() -> None:
    """The sublinear-tf table holds what ``np.log(counts) + 1.0`` gives in any position of
    an array (the way ``vector`` and scikit-learn compute it), and past its end the
    fallback does too."""
    counts = np.arange(1, _LOG_TABLE_SIZE + 50, dtype=np.float64)
    rng = np.random.default_rng(1)
    for array in (counts, counts[::-1].copy(), rng.permutation(counts), counts[:7].copy()):
        expected = np.log(array) + 1.0
        table = [_log_plus_one(int(c)) for c in array]
        assert table == expected.tolist()


def test_char_wb_ngrams_equal_sklearn_analyzer(seeds: list[tuple[Grader, list[str]]]) -> None:
    rng = random.Random(11)
    alphabet = [*"ab xyz.,'-", "\u00a0", "\u2003", "\n", "\t", "\x1c", "\x85", "\u2028"]
    texts = [answer for _, answer in _pairs(seeds)]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    grader = seeds[0][0]
    assert grader.char_similarity is not None
    analyze = grader.char_similarity.vectorizer_.build_analyzer()
    for text in texts:
        ours = [
            gram
            for word in re.sub(r"\s\s+", " ", normalise(text)).split()
            for gram in _char_wb_ngrams(word, (3, 5))
        ]
        assert ours == analyze(text), repr(text)


def test_regex_whitespace_is_str_whitespace() -> None:
    """``char_wb_indices`` relies on ``str.split()`` splitting on exactly the characters
    scikit-learn's ``\\s\\s+`` collapses, for every code point."""
    space = re.compile(r"\s")
    for code in range(0x110000):
        char = chr(code)
        assert (space.match(char) is not None) == char.isspace(), hex(code)


def test_neighbour_index_equals_sklearn_transform(seeds: list[tuple[Grader, list[str]]]) -> None:
    for grader, answers in seeds:
        graded = answers[:40]
        index = NeighbourIndex(demoted=content_stems(grader.rubric.prompt)).fit(
            graded, [i / 40 for i in range(40)], grader.rubric.background
        )
        assert index.word_ is not None
        assert index.char_ is not None
        sparse_only = TfidfSpace(index.word_, index.word_matrix_)
        sparse_only._dense = None  # the path for matrices too large to keep dense
        for answer in answers[40:]:
            stems = content_stems(answer)
            word = (index.word_matrix_ @ index.word_.transform([stems]).T).toarray().ravel()
            char = (index.char_matrix_ @ index.char_.transform([answer]).T).toarray().ravel()
            word_indices = index.word_space_.word_indices(StemAnalyzer(index.demoted, 2)(stems))
            ours = index.word_space_.similarities(word_indices)
            assert (ours if ours is not None else np.zeros(40)).tolist() == word.tolist()
            ours = index.char_space_.similarities(
                index.char_space_.char_wb_indices(answer, normalise, (3, 5))
            )
            assert (ours if ours is not None else np.zeros(40)).tolist() == char.tolist()
            ours = sparse_only.similarities(word_indices)
            assert (ours if ours is not None else np.zeros(40)).tolist() == word.tolist()


def test_grades_equal_with_sklearn_similarity(
    seeds: list[tuple[Grader, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole breakdowns: the engine with TfidfSpace against the engine with transform."""
    fast: list[ScoreBreakdown] = []
    graders = []
    for grader, answers in seeds:
        graded = [GradedAnswer(answer, float(i % 5) * 2.5) for i, answer in enumerate(answers[:30])]
        graders += [grader, Grader(grader.rubric, graded=graded)]
    for grader in graders:
        fast += [grader.grade(answer) for answer in _answers_of(seeds, grader)]
    monkeypatch.setattr(SimilarityScorer, "score", SimilarityScorer.transform_score)
    monkeypatch.setattr(CharSimilarityScorer, "score", CharSimilarityScorer.transform_score)
    slow = [grader.grade(answer) for grader in graders for answer in _answers_of(seeds, grader)]
    assert fast == slow


def _answers_of(seeds: list[tuple[Grader, list[str]]], grader: Grader) -> list[str]:
    for seed, answers in seeds:
        if seed.rubric == grader.rubric:
            return answers[::3]
    raise AssertionError("unknown grader")


# --- Keyword matching -------------------------------------------------------------------


def test_matcher_equals_match_criterion(seeds: list[tuple[Grader, list[str]]]) -> None:
    for grader, answer in _pairs(seeds):
        content = grader._tokens([t for t in tokenize(answer) if not t.is_stop])
        found = _Found.of(content)
        for criteria in (grader.criteria, grader._terms):
            matcher = _Matcher(criteria)
            expected = tuple(match_criterion(c, content, answer) for c in criteria)
            assert matcher.match(content, answer, found) == expected, answer
            assert matcher.met(content, found) == [m.met for m in expected]
        terms = tuple(match_criterion(c, content, answer) for c in grader._terms)
        assert grader._reference_coverage([m.met for m in terms]) == reference_coverage(
            terms, grader._terms_by_reference
        )


def test_spelling_memo_equals_search(seeds: list[tuple[Grader, list[str]]]) -> None:
    grader = seeds[0][0]
    vocabulary = " ".join([*grader.rubric.reference_answers, *grader.rubric.background]).split()
    corrector = SpellingCorrector(w.casefold() for w in vocabulary)
    rng = random.Random(2)
    for _ in range(500):
        word = rng.choice(vocabulary).casefold()
        if len(word) > 3:
            k = rng.randrange(len(word))
            word = word[:k] + word[k + 1 :]
        assert corrector.correct(word) == corrector._correct(word)
        assert corrector.correct(word) == corrector._correct(word)  # from the memo


# --- Tokenising ------------------------------------------------------------------------


def _reference_tokenize(text: str) -> list[tuple[str, str, int, int, bool, bool]]:
    """The tokenizer before the per-chunk memo: one regex pass over the whole text."""
    tokens = []
    since_negation: int | None = None
    previous_end = 0
    for match in _WORD_RE.finditer(text):
        start, end = match.span()
        if since_negation is not None and _CLAUSE_BREAK_RE.search(text, previous_end, start):
            since_negation = None
        previous_end = end
        for piece in _WORD_RE.findall(normalise(match.group())):
            if piece in _CLAUSE_BREAK_WORDS:
                since_negation = None
            negated = since_negation is not None and since_negation < NEGATION_REACH
            tokens.append((piece, stem(piece), start, end, piece in STOP_WORDS, negated))
            if is_negator(piece):
                since_negation = 0
            elif since_negation is not None:
                since_negation += 1
    return tokens


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = [
        *"abcdefgh xyz  .,;:!?()[]'\u2019-_*|\n\t",
        *"\u00a0\u2003\u2022\u00b7\ufb01\uff21\u00e9\u65e5\u00df",
        "not ",
        "didn't ",
        "but ",
        "never ",
        "however ",
        "Kennedy's ",
        "n't",
        "- ",
        ". ",
        "the war. ",
    ]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(count)]


def test_tokenize_equals_whole_text_regex(seeds: list[tuple[Grader, list[str]]]) -> None:
    texts = [answer for _, answer in _pairs(seeds)] + _random_texts(20_000, 3)
    for text in texts:
        assert [tuple(t) for t in tokenize(text)] == _reference_tokenize(text), repr(text)


def test_split_tokens_equals_tokenising_each_part(seeds: list[tuple[Grader, list[str]]]) -> None:
    texts = [answer for _, answer in _pairs(seeds)] + _random_texts(10_000, 4)
    for text in texts:
        tokens = tokenize(text)
        for separator in (repetition._SENTENCE_BREAK_RE, stuffing._LIST_BREAK_RE):
            expected = [[t.text for t in tokenize(part)] for part in separator.split(text)]
            parts = base.split_tokens(text, tokens, separator)
            assert [[t.text for t in tokens[a:b]] for a, b in parts] == expected, repr(text)


# --- Advisories ------------------------------------------------------------------------


def test_advisory_shortcuts_equal_plain_code(seeds: list[tuple[Grader, list[str]]]) -> None:
    texts = [answer for _, answer in _pairs(seeds)] + _random_texts(5000, 6)
    for text in texts:
        answer = base.Answer.of(text)
        sentences = (
            tuple(t.text for t in tokenize(s)) for s in repetition._SENTENCE_BREAK_RE.split(text)
        )
        counts = Counter(w for w in sentences if len(w) >= repetition.REPETITION_MIN_SENTENCE_WORDS)
        expected = sum(count - 1 for count in counts.values())
        assert repetition._extra_sentence_copies(text, answer.tokens) == expected
        # The vowel share counts vowels with ``str.count`` instead of letter by letter.
        letters = "".join(t.text for t in answer.tokens if t.text.isascii() and t.text.isalpha())
        vowels = sum(letters.count(v) for v in gibberish._VOWELS)
        assert vowels == sum(c in "aeiouy" for c in letters)


def test_assess_with_tokens_equals_assess_alone(seeds: list[tuple[Grader, list[str]]]) -> None:
    for grader, answer in _pairs(seeds):
        context = grader._advisory_context
        assert context is not None
        for similarity, coverage in ((0.0, 0.0), (0.3, 0.1), (0.9, 0.8)):
            alone = assessment.assess(answer, context, similarity=similarity, coverage=coverage)
            shared = assessment.assess(
                answer,
                context,
                similarity=similarity,
                coverage=coverage,
                tokens=tokenize(answer),
            )
            assert shared == alone


def _reference_judged(answer: base.Answer) -> list[str]:
    """``is_gibberish``'s judged words before ``_judged_words`` inlined the prose check."""
    return [
        token.text
        for token in answer.tokens
        if len(token.text) >= gibberish.GIBBERISH_MIN_WORD_LETTERS
        and token.text.isascii()
        and token.text.isalpha()
        and gibberish._written_as_prose(answer.text, token.start, token.end)
    ]


def _reference_is_keyword_list(answer: base.Answer, context: base.AnswerContext) -> bool:
    """``is_keyword_list`` before phrasings were looked up by their first stem."""
    hits = 0
    for stems in context.phrasings:
        if answer.stems.issuperset(stems):
            hits += 1
            if hits >= stuffing.STUFFING_MIN_PHRASINGS:
                return stuffing._lacks_sentences(answer)
    return False


def _reference_echo_find(echo: FeedbackEcho, tokens: list[Token]) -> Echo:
    """``FeedbackEcho.find`` before the shortcut on shingle heads: every 4-gram looked up."""
    stems, stops, where = _echo_keys(tokens)
    size = ECHO_SHINGLE_WORDS
    copied = [False] * len(stems)
    for i in range(len(stems) - size + 1):
        if tuple(stems[i : i + size]) in echo.shingles:
            copied[i : i + size] = [True] * size
    # Only which keys count as copied changed; turning them into spans is shared.
    return copied_runs(tokens, copied, stops, where)


def _code_and_case_texts(count: int, seed: int) -> list[str]:
    """Words in every case and next to code symbols, the cases the prose check separates."""
    rng = random.Random(seed)
    words = ["secret", "Secret", "SECRET", "sEcret", "xPtr", "bcdfghjk", "qwerty", "aaab", "ok"]
    glue = [" ", " ", "*", "&", "(", ")", "[", "]", ";", "=", "_", "/", "\\", ", ", ". ", "'"]
    return [
        "".join(rng.choice(words) + rng.choice(glue) for _ in range(rng.randint(0, 25)))
        for _ in range(count)
    ]


def test_advisory_lookups_equal_plain_loops(seeds: list[tuple[Grader, list[str]]]) -> None:
    """The gibberish word filter, keyword-list phrasing lookup and echo shortcut give what
    the loops they replaced give, with and without copied feedback in the answer."""
    base_texts = [answer for _, answer in _pairs(seeds)]
    base_texts += _random_texts(3000, 8) + _code_and_case_texts(3000, 9)
    for grader, _ in seeds:
        context = grader._advisory_context
        assert context is not None
        feedback = feedback_texts(grader.criteria)
        rng = random.Random(10)
        texts = base_texts + [
            f"{rng.choice(base_texts)} {rng.choice(feedback)} {rng.choice(base_texts)}"
            for _ in range(2000)
        ]
        for text in texts:
            answer = base.Answer.of(text)
            assert gibberish._judged_words(answer) == _reference_judged(answer), repr(text)
            assert stuffing.is_keyword_list(answer, context) == _reference_is_keyword_list(
                answer, context
            ), repr(text)
            tokens = tokenize(text)
            assert grader._echo.find(tokens) == _reference_echo_find(grader._echo, tokens)
