"""Advisories on answers that game the grader or cannot be graded, over the seed rubrics.

Honest answers are checked with the engine signals at their worst (similarity and coverage
0.0): only ``off_topic`` reads them, and lower signals only make it more likely to fire, so
an honest answer that passes here passes whatever the engine measures. Gaming answers get
signals like those the engine measured for them (the top of the range for off-topic text).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from service.domain.rubrics.schemas import RubricDocument
from service.domain.rubrics.service import load_rubric_file
from service.scoring.advisories import (
    ADVISORY_CODES,
    COPIES_QUESTION,
    ECHOES_FEEDBACK,
    GIBBERISH,
    KEYWORD_STUFFING,
    OFF_TOPIC,
    OTHER_LANGUAGE,
    REPETITION,
    TOO_LONG,
    TOO_SHORT,
    Advisory,
    AnswerContext,
    apply_caps,
    assess,
)
from service.scoring.errors import RubricError
from tests.conftest import RUBRICS_DIR, SEED_QUESTION_IDS

ALL_ADVISORIES = (
    OTHER_LANGUAGE,
    ECHOES_FEEDBACK,
    GIBBERISH,
    REPETITION,
    TOO_SHORT,
    COPIES_QUESTION,
    KEYWORD_STUFFING,
    OFF_TOPIC,
    TOO_LONG,
)


def load_document(question_id: str) -> RubricDocument:
    return load_rubric_file(RUBRICS_DIR / f"{question_id}.yaml")


def build_context(document: RubricDocument) -> AnswerContext:
    return AnswerContext.build(
        prompt=document.prompt,
        reference_answers=document.reference_answers,
        phrasings=[phrasing for c in document.criteria for phrasing in c.phrasings],
        background=[line for line in document.background.splitlines() if line.strip()],
    )


DOCUMENTS = {question_id: load_document(question_id) for question_id in SEED_QUESTION_IDS}
CONTEXTS = {question_id: build_context(doc) for question_id, doc in DOCUMENTS.items()}


def codes(answer: str, question_id: str, *, similarity: float, coverage: float) -> list[str]:
    context = CONTEXTS[question_id]
    return [a.code for a in assess(answer, context, similarity=similarity, coverage=coverage)]


# --- Honest answers: must get no advisory -----------------------------------------------

# Written in a student's own words: short but complete (12-20 words), with typos, quoting
# the question before answering, in bullet points, with acronyms, one-sided or balanced.
HONEST = {
    "backchannel-q1": (
        "Kennedy and Khrushchev talked in secret, so neither had to look weak in public and "
        "they could avoid war.",
        "The secret channel let both leaders say what they really wanted without the press "
        "watching, which calmed the crisis.",
        "Backchannels gave Kennedy and Khruschev a private way to talk, so they could figure "
        "out each others real intentions and step back from nuclear war.",
        "How did backchannels impact decision-making? They let Robert Kennedy and the Soviet "
        "ambassador Dobrynin meet privately, so each side could make its demands clear, judge "
        "whether the other was bluffing, and reach a deal that ended the crisis peacefully.",
        "During the crisis, official statements were full of threats. Behind the scenes, "
        "though, messages went back and forth through intermediaries like Dobrynin. Because "
        "these talks were secret, Kennedy could quietly agree to remove missiles from Turkey "
        "and Khrushchev could withdraw from Cuba without being humiliated. This honest "
        "exchange helped both leaders understand each other and avoid a war.",
        "- Secret messages between Kennedy and Khrushchev\n- Helped them avoid war\n"
        "- Each side could judge the other's intentions",
        "It made decisions easier because the leaders could talk frankly in private and find "
        "a way out that avoided war.",
        "They let both leaders talk privately and avoid a nuclear war.",
        "JFK and the USSR used secret talks so they could avoid a war with each other.",
        "jfk and the ussr used secret talks to calm things down and avoid war.",
        "'How did backchannel communications impact the decision-making process?' They allowed "
        "Kennedy and Khrushchev to negotiate privately and avoid war.",
        "Kennedy and Khrushchev secretly negotiated, avoiding war.",
        "Secret talks helped de-escalate the crisis. De-escalation was possible because each "
        "side could de-escalate without losing face.",
        "U.S. President John F. Kennedy and Soviet Premier Nikita Khrushchev exchanged secret "
        "letters, which helped them avoid war.",
        "Kennedy once said 'ich bin ein Berliner', but in Cuba he used secret talks with "
        "Khrushchev to avoid war and keep things calm.",
        "Yes, they helped. Kennedy and Khrushchev could talk in private, so they each "
        "understood what the other wanted and could back down without looking weak.",
    ),
    "backchannel-q2": (
        "Backchannels were very effective because they were fast and secret, which let leaders "
        "compromise without public pressure and avoid war.",
        "They worked well: private talks cut down misunderstandings and allowed the secret deal "
        "about missiles in Turkey, which ended the standoff peacefully.",
        "Evaluate the effectiveness? I think backchannels were highly effective. Informal "
        "contacts moved faster than formal diplomacy, let each side test compromises like the "
        "Jupiter missiles in Turkey in secret, and helped prevent misreading of intentions, so "
        "they are a valuable crisis management tool.",
        "Backchannels were efective in the Cuban Missile Crisis since messages traveled quickly "
        "and privately, which reduced confusion and helped reach a peaceful agreement.",
        "I would say backchannels were useful but risky. They allowed quick, secret bargaining "
        "that formal channels could not manage, and the deal over Turkey shows this. However, "
        "they depended on trust between a few people and left allies uninformed, so they work "
        "best alongside official diplomacy.",
        "The strengths of backchannels were speed and secrecy; their weakness was that allies "
        "were left out.",
        "Backchannels were fast, secret, flexible, honest, cheap, deniable, and effective, so "
        "the leaders avoided war.",
    ),
    "backchannel-q3": (
        "After the crisis both sides trusted each other a little more and set up the hotline, "
        "which led to arms control treaties.",
        "The secret talks showed diplomacy could work, so in 1963 the US and USSR created a "
        "direct hotline and signed the Limited Test Ban Treaty.",
        "The successful backchannel talks built some trust and led to the Washington-Moscow "
        "hotline in 1963. This made an accidental nuclear war less likely and opened the way to "
        "arms control agreements and detente.",
        "Because the crisis ended peacefully through secret talks, the superpowers learned to "
        "communicate directly. They installed a hotline, signed a test ban treaty, and relations "
        "slowly became less hostile, leading toward détente in the 1970s.",
        "Outcomes of the backchannel communications influenced future relations a lot: they "
        "built trust, created the hotline, and made later arms control talks like SALT "
        "possible.",
        "Détente came later. The two leaders learned that détente was possible because their "
        "secret talks had worked, and détente grew from that.",
    ),
}
HONEST_CASES = [(qid, answer) for qid, answers in HONEST.items() for answer in answers]


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_reference_answers_get_no_advisory(question_id: str) -> None:
    for reference in DOCUMENTS[question_id].reference_answers:
        assert codes(reference, question_id, similarity=0.0, coverage=0.0) == []
        assert codes(reference, question_id, similarity=1.0, coverage=1.0) == []


@pytest.mark.parametrize(("question_id", "answer"), HONEST_CASES)
def test_honest_answer_gets_no_advisory(question_id: str, answer: str) -> None:
    assert codes(answer, question_id, similarity=0.0, coverage=0.0) == []


# --- Gaming and ungradable answers: each gets its advisory ------------------------------

OFF_TOPIC_ESSAYS = {
    "photosynthesis": (
        "Photosynthesis is the process by which green plants use sunlight, water and carbon "
        "dioxide to make glucose and release oxygen. It happens in the chloroplasts, where "
        "chlorophyll absorbs light energy. The glucose is then used by the plant for growth and "
        "stored as starch."
    ),
    "french-revolution": (
        "The French Revolution began in 1789 when the people of Paris stormed the Bastille. "
        "Peasants were angry about high taxes and bread prices, and the middle class wanted a "
        "say in government. The king was eventually executed and France became a republic."
    ),
    "football": (
        "My favourite football team is Arsenal. They play at the Emirates Stadium in north "
        "London and have won the league thirteen times. Last season they finished second, and I "
        "hope they win the title this year with their young players."
    ),
    "recipe": (
        "To bake a simple loaf of bread, mix flour, water, yeast and salt, then knead the dough "
        "for ten minutes. Leave it to rise for an hour, shape it, and bake it in a hot oven "
        "until the crust is golden brown."
    ),
}
# About 300 words on five unrelated subjects, none repeated.
LONG_ESSAY = (
    "The printing press changed Europe in ways that its inventor could hardly have imagined. "
    "Before Gutenberg built his machine in Mainz around 1450, books were copied by hand, "
    "usually by monks, and a single volume could take months to finish. Movable metal type "
    "made it possible to produce hundreds of identical pages in a day. Within fifty years, "
    "presses were running in more than two hundred towns, and millions of books had been "
    "printed. Cheaper books meant that more people learned to read, and ideas could travel far "
    "more quickly than before. Scientists shared their observations, merchants printed price "
    "lists, and religious reformers spread pamphlets that challenged the authority of the "
    "church. The water cycle is another process that shapes the world around us. Heat from the "
    "sun evaporates water from oceans, lakes and rivers. The vapour rises, cools and condenses "
    "into clouds, and eventually falls again as rain or snow. Some of that water soaks into the "
    "ground and feeds underground aquifers, while the rest flows across the surface into "
    "streams that carry it back to the sea. Plants also return moisture to the air through "
    "their leaves, a process called transpiration. Volcanoes form where molten rock from deep "
    "inside the earth finds a way to the surface. Some erupt violently, throwing ash high into "
    "the atmosphere, while others release slow rivers of lava that harden into new land. The "
    "islands of Hawaii were built this way over millions of years. Honeybees live in colonies "
    "ruled by a single queen. Worker bees gather nectar and pollen, build wax combs and care "
    "for the young, while drones exist mainly to mate. Bees communicate the location of "
    "flowers with a waggle dance, and their pollination is vital for many of the fruits and "
    "vegetables we eat. Finally, the history of chess stretches back more than a thousand "
    "years to India, where an early form of the game was played. It spread through Persia to "
    "the Arab world and then to Europe, where the rules slowly changed until the modern game "
    "appeared in the fifteenth century."
)
GIBBERISH_ANSWERS = {
    "keyboard-rows": "asdf jkl qwerty sdfgh zxcvbn",
    "mashing": "sdkfjh sdkfjhsd kjhsdf lkjsdf wqrtp xzcvbnm",
    "one-long-mash": "dfghjkdfghjkdfghjkdfghjkl",
    "keywords-in-mash": "kennedy asdfgh khrushchev qwerty hotline zxcvb nbvcx",
    "made-up-words": "blorp fnarg skrrtch wvxlq the mmmmm zzzzt pfft",
}
NON_ENGLISH = {
    "spanish": (
        "Los canales secretos permitieron a Kennedy y Jruschov intercambiar mensajes en "
        "privado. Así cada líder pudo entender las intenciones del otro sin la presión de la "
        "opinión pública, y juntos evitaron una guerra nuclear."
    ),
    "french": (
        "Les communications secrètes ont permis à Kennedy et Khrouchtchev d'échanger des "
        "messages en privé. Chaque dirigeant a pu comprendre les intentions de l'autre sans la "
        "pression du public, et ils ont évité une guerre nucléaire."
    ),
    "german": (
        "Die geheimen Kanäle erlaubten es Kennedy und Chruschtschow, private Nachrichten "
        "auszutauschen. So konnte jeder die Absichten des anderen besser verstehen, ohne "
        "öffentlichen Druck, und sie verhinderten einen Atomkrieg."
    ),
    "portuguese": (
        "Os canais secretos permitiram que Kennedy e Khrushchov trocassem mensagens em "
        "particular. Assim cada líder pôde entender as intenções do outro sem a pressão da "
        "opinião pública, e evitaram uma guerra nuclear."
    ),
    "italian": (
        "I canali segreti hanno permesso a Kennedy e Krusciov di scambiarsi messaggi in "
        "privato. Così ogni leader ha potuto capire le intenzioni dell'altro senza la pressione "
        "dell'opinione pubblica, e hanno evitato una guerra nucleare."
    ),
    "dutch": (
        "De geheime kanalen lieten Kennedy en Chroesjtsjov privé berichten uitwisselen. Zo kon "
        "elke leider de bedoelingen van de ander beter begrijpen zonder druk van het publiek, "
        "en ze voorkwamen een kernoorlog."
    ),
    "polish": (
        "Tajne kanały pozwoliły Kennedy'emu i Chruszczowowi wymieniać wiadomości prywatnie. "
        "Dzięki temu każdy przywódca mógł lepiej zrozumieć zamiary drugiej strony bez presji "
        "opinii publicznej i uniknęli wojny jądrowej."
    ),
    "russian": (
        "Тайные каналы позволили Кеннеди и Хрущёву обмениваться сообщениями наедине и избежать "
        "ядерной войны."
    ),
    "chinese": "秘密渠道让肯尼迪和赫鲁晓夫能够私下交换信息\uff0c从而避免了核战争。",
    # Placeholder Latin is not the question's language either: it goes to a teacher
    # (needs_review) instead of being capped as off-topic; the teacher sees filler.
    "lorem-ipsum": (
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
        "exercitation ullamco laboris."
    ),
}
QUESTION_PARAPHRASES = {
    "backchannel-q1": (
        "Backchannel talks had an impact on how decisions were made in the Cuban crisis."
    ),
    "backchannel-q2": (
        "Backchannel communications were an effective strategy in international crises like "
        "the Cuban Missile Crisis."
    ),
    "backchannel-q3": (
        "The outcomes of the backchannels in the Cuban Missile Crisis had an influence on "
        "the relations between the US and the Soviet Union in the future."
    ),
}

# Engine signals (similarity, coverage) like those measured for each kind of answer.
SIGNALS = {
    "keyword_stuffing": (0.6, 1.0),
    "copies_question": (0.35, 0.0),
    "off_topic": (0.4, 0.2),
    "gibberish": (0.35, 0.25),
    "repetition": (0.6, 0.7),
    "too_short": (0.4, 0.1),
    "too_long": (1.0, 1.0),
    "other_language": (0.5, 0.45),
}


def gaming_cases(question_id: str) -> list[tuple[str, str, str]]:
    """(expected code, case name, answer) for one seed question."""
    document = DOCUMENTS[question_id]
    criteria = document.criteria
    first = [c.phrasings[0] for c in criteria]
    second = [c.phrasings[min(1, len(c.phrasings) - 1)] for c in criteria]
    honest = HONEST[question_id]
    reference = document.reference_answers[0]
    middle = len(LONG_ESSAY) // 2
    cases = [
        ("keyword_stuffing", "all-phrasings", " ".join(p for c in criteria for p in c.phrasings)),
        ("keyword_stuffing", "first-phrasings", " ".join(first)),
        ("keyword_stuffing", "comma-list", ", ".join(first + second)),
        ("keyword_stuffing", "bullet-list", "\n".join(f"- {p}" for p in first)),
        ("keyword_stuffing", "numbered-list", " ".join(f"{i}. {p}" for i, p in enumerate(first))),
        ("keyword_stuffing", "and-padded", " and ".join(first)),
        ("keyword_stuffing", "the-padded", " ".join(f"the {p}" for p in first)),
        ("copies_question", "verbatim", document.prompt),
        ("copies_question", "lower-case", document.prompt.lower().rstrip("?.")),
        ("copies_question", "plus-filler", f"{document.prompt} That is what I think."),
        ("copies_question", "paraphrase", QUESTION_PARAPHRASES[question_id]),
        ("too_short", "yes", "yes"),
        ("too_short", "name", "Kennedy"),
        ("too_short", "empty", ""),
        ("too_short", "punctuation", " ... ?"),
        ("too_short", "one-word-sentence", "It was Kennedy."),
        ("repetition", "pasted-5x", " ".join([honest[0]] * 5)),
        ("repetition", "pasted-3x", " ".join([honest[1]] * 3)),
        ("repetition", "same-sentence", "They talked secretly. " * 4),
        ("repetition", "blah", "blah blah blah blah blah blah"),
        ("repetition", "one-word", "ok ok ok ok ok ok ok ok"),
        ("repetition", "reference-5x", " ".join([reference] * 5)),
        (
            "too_long",
            "reference-in-essay",
            f"{LONG_ESSAY[:middle]} {reference} {LONG_ESSAY[middle:]}",
        ),
        ("too_long", "reference-after-essay", f"{LONG_ESSAY} {reference}"),
        ("off_topic", "long-essay", LONG_ESSAY),
    ]
    cases += [("off_topic", name, text) for name, text in OFF_TOPIC_ESSAYS.items()]
    cases += [("gibberish", name, text) for name, text in GIBBERISH_ANSWERS.items()]
    cases += [("other_language", name, text) for name, text in NON_ENGLISH.items()]
    return cases


GAMING_CASES = [
    pytest.param(qid, code, answer, id=f"{qid}-{code}-{name}")
    for qid in SEED_QUESTION_IDS
    for code, name, answer in gaming_cases(qid)
]


@pytest.mark.parametrize(("question_id", "expected", "answer"), GAMING_CASES)
def test_gaming_answer_gets_its_advisory(question_id: str, expected: str, answer: str) -> None:
    similarity, coverage = SIGNALS[expected]
    found = codes(answer, question_id, similarity=similarity, coverage=coverage)
    assert expected in found


@pytest.mark.parametrize(("question_id", "expected", "answer"), GAMING_CASES)
def test_flagged_answer_never_keeps_full_marks_silently(
    question_id: str, expected: str, answer: str
) -> None:
    similarity, coverage = SIGNALS[expected]
    advisories = assess(answer, CONTEXTS[question_id], similarity=similarity, coverage=coverage)
    assert advisories
    assert apply_caps(1.0, advisories) < 1.0 or any(a.needs_review for a in advisories)


@pytest.mark.parametrize("language", NON_ENGLISH)
def test_non_english_goes_to_review_uncapped(language: str) -> None:
    advisories = assess(
        NON_ENGLISH[language], CONTEXTS["backchannel-q1"], similarity=0.0, coverage=0.0
    )
    assert advisories == (OTHER_LANGUAGE,)
    assert OTHER_LANGUAGE.cap is None
    assert OTHER_LANGUAGE.needs_review


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_reference_inside_long_essay_scores_below_reference_alone(question_id: str) -> None:
    context = CONTEXTS[question_id]
    reference = DOCUMENTS[question_id].reference_answers[0]
    padded = f"{LONG_ESSAY} {reference}"
    alone = apply_caps(1.0, assess(reference, context, similarity=1.0, coverage=1.0))
    inside = apply_caps(1.0, assess(padded, context, similarity=1.0, coverage=1.0))
    assert inside < alone == 1.0


@pytest.mark.parametrize("question_id", SEED_QUESTION_IDS)
def test_keyword_list_scores_at_most_forty_percent(question_id: str) -> None:
    criteria = DOCUMENTS[question_id].criteria
    keywords = " ".join(phrasing for c in criteria for phrasing in c.phrasings)
    advisories = assess(keywords, CONTEXTS[question_id], similarity=0.7, coverage=1.0)
    assert apply_caps(0.95, advisories) <= 0.4
    assert KEYWORD_STUFFING in advisories


# --- Vetoes and ordering ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("similarity", "coverage"), [(0.5, 0.0), (0.9, 0.0), (0.0, 0.25), (0.2, 0.6)]
)
def test_off_topic_vetoed_when_engine_sees_the_answer_as_related(
    similarity: float, coverage: float
) -> None:
    found = codes(
        OFF_TOPIC_ESSAYS["photosynthesis"],
        "backchannel-q1",
        similarity=similarity,
        coverage=coverage,
    )
    assert "off_topic" not in found


def test_advisories_come_in_declared_order_without_duplicates() -> None:
    reference = DOCUMENTS["backchannel-q1"].reference_answers[0]
    found = codes(" ".join([reference] * 5), "backchannel-q1", similarity=1.0, coverage=1.0)
    assert found == ["repetition", "too_long"]
    long_essay = codes(LONG_ESSAY, "backchannel-q1", similarity=0.3, coverage=0.0)
    assert long_essay == ["off_topic", "too_long"]


def test_off_topic_left_out_when_a_more_specific_advisory_explains_the_answer() -> None:
    found = codes(GIBBERISH_ANSWERS["mashing"], "backchannel-q1", similarity=0.0, coverage=0.0)
    assert found == ["gibberish"]


# --- apply_caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "advisories", "expected"),
    [
        (0.9, (), 0.9),
        (0.9, (KEYWORD_STUFFING,), 0.4),
        (0.3, (KEYWORD_STUFFING,), 0.3),
        (0.9, (KEYWORD_STUFFING, OFF_TOPIC), 0.1),
        (0.9, (TOO_LONG, COPIES_QUESTION), 0.2),
        (1.0, (TOO_LONG,), 0.85),
        (0.7, (OTHER_LANGUAGE, REPETITION), 0.7),
        (0.0, (TOO_SHORT,), 0.0),
    ],
)
def test_apply_caps_takes_the_smallest_cap(
    score: float, advisories: Sequence[Advisory], expected: float
) -> None:
    assert apply_caps(score, advisories) == pytest.approx(expected)


# --- Contract -----------------------------------------------------------------------------


def test_advisory_catalogue_is_complete_and_well_formed() -> None:
    assert tuple(a.code for a in ALL_ADVISORIES) == ADVISORY_CODES
    assert len(set(ADVISORY_CODES)) == len(ADVISORY_CODES)
    for advisory in ALL_ADVISORIES:
        assert advisory.message.endswith(".")
        assert advisory.cap is None or 0.0 < advisory.cap < 1.0
        assert advisory.cap is not None or advisory.needs_review


def test_assess_is_deterministic() -> None:
    rebuilt = build_context(load_document("backchannel-q2"))
    assert rebuilt == CONTEXTS["backchannel-q2"]
    answers = [
        *HONEST["backchannel-q2"],
        *(answer for _, _, answer in gaming_cases("backchannel-q2")),
    ]
    first = [assess(a, rebuilt, similarity=0.3, coverage=0.1) for a in answers]
    second = [assess(a, CONTEXTS["backchannel-q2"], similarity=0.3, coverage=0.1) for a in answers]
    assert first == second


@pytest.mark.parametrize(("similarity", "coverage"), [(-0.1, 0.5), (0.5, 1.5), (float("nan"), 0.0)])
def test_assess_rejects_signals_outside_zero_to_one(similarity: float, coverage: float) -> None:
    with pytest.raises(ValueError, match=r"0\.\.1"):
        assess(
            "Kennedy and Khrushchev talked.",
            CONTEXTS["backchannel-q1"],
            similarity=similarity,
            coverage=coverage,
        )


def test_build_requires_a_reference_answer() -> None:
    with pytest.raises(RubricError, match="reference"):
        AnswerContext.build(prompt="Why?", reference_answers=["  "], phrasings=["because"])


# --- other_language: the question's language, whichever it is ---------------------------

STACK_PROMPT = "What is a stack and how do its push and pop operations work?"
STACK_REFERENCE = (
    "A stack is a last in, first out list: push puts an item on the top and pop removes the "
    "item on the top."
)
FRENCH_PROMPT = "Qu'est-ce qu'une pile et comment fonctionnent les opérations empiler et dépiler ?"
FRENCH_REFERENCE = (
    "Une pile est une liste où le dernier élément ajouté est le premier retiré : empiler met "
    "un élément au sommet et dépiler enlève l'élément du sommet."
)


def stack_context(*, french: bool = False, language: str | None = None) -> AnswerContext:
    prompt, reference = (
        (FRENCH_PROMPT, FRENCH_REFERENCE) if french else (STACK_PROMPT, STACK_REFERENCE)
    )
    return AnswerContext.build(
        prompt=prompt, reference_answers=[reference], phrasings=[], language=language
    )


def language_codes(answer: str, context: AnswerContext) -> list[str]:
    return [a.code for a in assess(answer, context, similarity=0.0, coverage=0.0)]


OTHER_LANGUAGE_ANSWERS = {
    "spanish": "Una pila guarda los elementos de modo que el último en entrar es el primero en "
    "salir, y push lo pone arriba.",
    "french": "Une pile garde les éléments de sorte que le dernier arrivé soit le premier à "
    "sortir de la pile.",
    "german": "Ein Stapel speichert die Elemente so, dass das zuletzt hinzugefügte Element als "
    "erstes wieder entfernt wird.",
    "portuguese": "Uma pilha guarda os elementos de modo que o último que entra é o primeiro "
    "que sai da pilha.",
    "italian": "Una pila conserva gli elementi in modo che l'ultimo inserito sia il primo a "
    "essere tolto dalla pila.",
    "dutch": "Een stapel bewaart de elementen zo dat het laatste element dat erbij komt er als "
    "eerste weer af gaat.",
    "swedish": "En stack sparar elementen så att det sista som läggs till är det första som "
    "tas bort igen.",
    # Close relatives share the identifier's posterior (Indonesian and Malay): still flagged.
    "indonesian": "Tumpukan menyimpan elemen sehingga elemen yang terakhir masuk adalah yang "
    "pertama keluar dari tumpukan.",
    "russian": "Стек хранит элементы так, что последний добавленный элемент удаляется первым.",
    "greek": "Η στοίβα αποθηκεύει τα στοιχεία έτσι ώστε το τελευταίο να βγαίνει πρώτο.",  # noqa: RUF001
    "japanese": "スタックは最後に入れた要素が最初に取り出される構造です。",
}

# English that an identifier or a function-word count could take for something else.
ENGLISH_LOOKALIKES = {
    "short": "LIFO",
    "short-spanish-looking": "la pila",
    "name": "de Gaulle",
    "de-gaulle-sentence": "De Gaulle wanted détente with Moscow, not a war over Cuba.",
    "detente": "The hotline and the test ban treaty led to détente between the superpowers.",
    "loan-words": "Push adds an item on top, a kind of déjà vu of the last in, first out rule "
    "à la carte.",
    "code": "void push(int x) { a[++top] = x; } int pop() { return a[top--]; }",
    "code-python": "stack.append(x); x = stack.pop(); len(stack) == 0",
    "formula": "T(n) = T(n-1) + O(1), log(log n), 2^(log n), n^2, n^3, n!",
    "greek-letters": "ΔH = ΔU + PΔV and α + β + γ = 180°",  # noqa: RUF001
    "pi": "πr²",
    "numbers": "1, 2, 3, 5, 8, 13, 21, 34, 55",
    "acronyms": "LIFO FIFO ADT API RAM CPU OS",
    "terse": "push top pop top LIFO list insert remove",
    "names": "Kennedy Khrushchev Castro Dobrynin Bobby Kennedy Jupiter missiles Turkey",
}


@pytest.mark.parametrize("language", OTHER_LANGUAGE_ANSWERS)
def test_answer_in_another_language_is_flagged(language: str) -> None:
    assert language_codes(OTHER_LANGUAGE_ANSWERS[language], stack_context()) == ["other_language"]


@pytest.mark.parametrize("name", ENGLISH_LOOKALIKES)
def test_short_code_names_and_loan_words_are_not_flagged(name: str) -> None:
    assert "other_language" not in language_codes(ENGLISH_LOOKALIKES[name], stack_context())


def test_english_question_language_is_inferred() -> None:
    assert stack_context().language.code == "en"
    for context in CONTEXTS.values():
        assert context.language.code == "en"


def test_french_question_with_french_answers_is_not_flagged() -> None:
    context = stack_context(french=True)
    assert context.language.code == "fr"
    assert language_codes(OTHER_LANGUAGE_ANSWERS["french"], context) == []
    assert language_codes(FRENCH_REFERENCE, context) == []


def test_english_answer_to_a_french_question_is_flagged() -> None:
    context = stack_context(french=True)
    english = (
        "A stack keeps its items so that the last one that was added is the first one removed."
    )
    assert language_codes(english, context) == ["other_language"]
    # ... and short or code-like text still is not.
    assert language_codes("LIFO", context) != ["other_language"]
    assert "other_language" not in language_codes(ENGLISH_LOOKALIKES["code"], context)


def test_rubric_language_overrides_inference() -> None:
    # A terse question cannot show its language: English is assumed unless declared.
    terse = {"prompt": "Pile ?", "reference_answers": ["LIFO."], "phrasings": []}
    assert AnswerContext.build(**terse).language.code == "en"  # type: ignore[arg-type]
    context = AnswerContext.build(**terse, language="FR ")  # type: ignore[arg-type]
    assert context.language.code == "fr"
    english = (
        "A stack keeps its items so that the last one that was added is the first one removed."
    )
    assert language_codes(english, context) == ["other_language"]
    assert language_codes(OTHER_LANGUAGE_ANSWERS["french"], context) == []


@pytest.mark.parametrize("language", ["english", "e1", "zxx", ""])
def test_a_rubric_language_that_is_no_language_is_a_rubric_error(language: str) -> None:
    with pytest.raises(RubricError, match="language"):
        stack_context(language=language)


def test_a_language_the_identifier_does_not_know_is_not_judged() -> None:
    # Hawaiian ("haw") is outside the identifier's set: no answer is taken for another
    # language on its word, whatever it says; another script still shows.
    context = stack_context(language="haw")
    assert context.language.code == "haw"
    assert not context.language.identifiable
    assert language_codes(OTHER_LANGUAGE_ANSWERS["spanish"], context) == []
    assert language_codes(OTHER_LANGUAGE_ANSWERS["russian"], context) == ["other_language"]


def test_rubric_document_language_reaches_the_check() -> None:
    from service.domain.rubrics.service import to_spec
    from service.scoring.engine import Grader

    # A terse question: only the declared tag says it is French.
    terse = DOCUMENTS["backchannel-q1"].model_copy(
        update={"prompt": "Pile ?", "reference_answers": ["LIFO."], "criteria": []}
    )
    english = "A stack keeps its items so that the last one that was added is the first one out."
    french = Grader(to_spec(terse.model_copy(update={"language": "fr-CA"})))
    assert [a.code for a in french.grade(english).advisories] == ["other_language"]
    assert "other_language" not in [
        a.code for a in Grader(to_spec(terse)).grade(english).advisories
    ]


def test_other_language_answer_is_not_capped_by_other_advisories() -> None:
    # A Spanish answer repeated: other detectors read English, so only other_language.
    answer = " ".join([OTHER_LANGUAGE_ANSWERS["spanish"]] * 4)
    assert language_codes(answer, stack_context()) == ["other_language"]
