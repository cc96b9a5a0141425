"""Offline measurements of the service's parts on the human-scored datasets
(``shared/datasets/README.md``), one runnable module per part
(``python -m service.evaluation.<name>``):

* ``grouping``: answer groups (``service.scoring.grouping``): how pure the groups are against
  the gold grades, and how many teacher decisions they save.
* ``pilot``: the pilot's choice of answers to grade (``service.scoring.pilot``) against random
  choices, by the held-out agreement of the question calibrated on them.
* ``language``: the language check (``other_language``): its false flags on every answer
  of the English datasets, and what it finds in ``tests/data/non_english_answers.jsonl``
  (its cost, next to the detector it replaced, is ``python -m bench.language``).
* ``confidence``: whether low confidence finds the large errors (risk-coverage), with the
  calibration's error profile and with the rule.
* ``zero_shot_confidence``: grade-free alternatives to the rule for questions without a
  calibration, each held out (the error profile leave-one-dataset-out).

The engine's agreement with human graders is measured by ``service.evaluate``, whose dataset
loading and grader building these modules import rather than repeat.
"""
