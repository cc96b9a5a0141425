"""The language identifier wrapper: restricted, normalised, built once, inferring a
question's language only when its text is clear."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from service.scoring import language
from service.scoring.language import (
    DEFAULT_LANGUAGE,
    ENGLISH,
    LANGUAGES,
    NO_LANGUAGE,
    QuestionLanguage,
    identify,
    primary_language,
    ranked,
)
from service.scoring.text import STOP_WORDS


def test_identify_names_the_language_with_a_probability() -> None:
    code, probability = identify("Les dirigeants ont négocié en secret pour éviter la guerre.")
    assert code == "fr"
    assert 0.9 < probability <= 1.0
    code, probability = identify("The leaders negotiated in secret to avoid a nuclear war.")
    assert code == "en"
    assert probability > 0.9


def test_probabilities_are_normalised_over_the_restricted_set() -> None:
    posterior = ranked("A stack is a last in, first out list.")
    assert {code for code, _ in posterior} == LANGUAGES
    assert sum(p for _, p in posterior) == pytest.approx(1.0, abs=1e-4)
    assert [p for _, p in posterior] == sorted((p for _, p in posterior), reverse=True)
    # Dialects and relatives outside the set are never answered (Walloon, Occitan, Latin).
    assert not {"wa", "oc", "la", "lb", "pcm"} & LANGUAGES


def test_primary_language_reads_prompt_and_references_together() -> None:
    assert primary_language(["What is a stack?", "A last in, first out list."]) == "en"
    assert (
        primary_language(
            [
                "Qu'est-ce qu'une pile en informatique ?",
                "Une liste où le dernier élément ajouté est le premier retiré.",
            ]
        )
        == "fr"
    )


@pytest.mark.parametrize("texts", [[], ["", "  "], ["n^2; n!"], ["LIFO."], ["x = 3"]])
def test_primary_language_falls_back_when_the_text_cannot_tell(texts: list[str]) -> None:
    assert primary_language(texts) == DEFAULT_LANGUAGE
    assert primary_language(texts, default="de") == "de"


def test_question_language_of_english_uses_its_function_words() -> None:
    english = QuestionLanguage.of(["What is a stack?", "A last in, first out list."])
    assert english == ENGLISH
    assert english.words == STOP_WORDS
    french = QuestionLanguage.of(
        ["Qu'est-ce qu'une pile ?", "Une liste où le dernier ajouté sort."]
    )
    assert french.code == "fr"
    assert {"une", "le", "où"} <= french.words
    russian = QuestionLanguage.of(
        ["Что такое стек?", "Список, где последний элемент выходит первым."]
    )
    assert russian.code == "ru"
    assert not russian.latin_script


def test_unknown_language_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        QuestionLanguage.of(["What is a stack?"], "klingon")
    with pytest.raises(ValueError, match="unknown language"):
        QuestionLanguage.of(["What is a stack?"], NO_LANGUAGE)


def test_identifier_is_built_once_under_concurrent_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from py3langid import langid

    built: list[object] = []

    class Slow:
        def set_languages(self, languages: Any) -> None:
            self.languages = languages

    def from_model_file(*args: Any, **kwargs: Any) -> Slow:
        time.sleep(0.05)  # long enough for every thread to arrive while it loads
        identifier = Slow()
        built.append(identifier)
        return identifier

    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(langid.LanguageIdentifier, "from_model_file", from_model_file)
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(language._get_identifier())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert seen == built * 8
    assert built[0].languages == sorted(LANGUAGES)  # type: ignore[attr-defined]
