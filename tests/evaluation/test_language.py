"""``python -m service.evaluation.language`` on small English datasets made here (the
project must not need ``shared/``) and on the committed answers in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.evaluation.language import (
    DEFAULT_ANSWERS,
    ENGLISH_DATASETS,
    detection,
    false_flags,
    main,
)

QUESTION = "What is the main advantage of passing arguments by reference?"
REFERENCE = "It avoids making copies of large data structures when calling functions."
ENGLISH = [
    "It avoids copying large data structures every time the function is called.",
    "You do not have to copy the whole array, so it is faster and uses less memory.",
    "no copy",
    "void f(int &x) { x++; }",
    "The function can change the caller's variable, a kind of déjà vu of pointers.",
]
SPANISH = "Evita hacer copias de estructuras de datos grandes cuando se llama a la función."


def write_datasets(tmp_path: Path, *, spanish_in: str | None = None) -> Path:
    for dataset in ENGLISH_DATASETS:
        answers = ENGLISH + ([SPANISH] if dataset == spanish_in else [])
        lines = [
            json.dumps(
                {
                    "question_id": "q1",
                    "question": QUESTION,
                    "reference_answers": [] if dataset == "asap_sas" else [REFERENCE],
                    "answer": answer,
                    "score": 1.0,
                    "max_score": 1.0,
                    "split": "test" if i % 2 else "train",
                },
                ensure_ascii=False,
            )
            for i, answer in enumerate(answers)
        ]
        folder = tmp_path / dataset
        folder.mkdir()
        (folder / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_every_row_of_every_split_is_counted_and_english_is_not_flagged(tmp_path: Path) -> None:
    flags = false_flags(write_datasets(tmp_path))
    assert flags.answers == dict.fromkeys(ENGLISH_DATASETS, len(ENGLISH))
    assert flags.flagged == []
    assert flags.rate == 0.0


def test_an_answer_in_another_language_is_listed_with_its_language(tmp_path: Path) -> None:
    flags = false_flags(write_datasets(tmp_path, spanish_in="asap_sas"))
    assert [(f.dataset, f.identified, f.answer) for f in flags.flagged] == [
        ("asap_sas", "es", SPANISH)
    ]
    assert flags.rate == pytest.approx(1 / (4 * len(ENGLISH) + 1))


def test_committed_answers_cover_the_languages_and_are_mostly_detected() -> None:
    found = detection(DEFAULT_ANSWERS)
    assert sum(found.answers.values()) >= 60
    for language in ("es", "fr", "de", "pt", "it"):
        assert found.answers[language] >= 10
    assert len(found.answers) >= 10
    # The file is not tuned on: a miss is reported, but most must be found.
    assert found.rate >= 0.9
    assert len(found.missed) == sum(found.answers.values()) - sum(found.detected.values())


def test_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datasets = write_datasets(tmp_path, spanish_in="mohler2011")
    assert main([str(datasets), "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert result["false_flags"]["answers"]["mohler2011"] == len(ENGLISH) + 1
    assert [f["answer"] for f in result["false_flags"]["flagged"]] == [SPANISH]
    assert 0.9 <= result["detection"]["rate"] <= 1.0
    assert main([str(datasets)]) == 0
    text = capsys.readouterr().out
    assert "(a) false flags" in text
    assert "(b) detection" in text
