"""Offline measurements of the service's parts on the human-scored datasets
(``shared/datasets/README.md``), one runnable module per part:

* ``service.evaluation.grouping``: answer groups (``service.scoring.grouping``): how pure the
  groups are against the gold grades, and how many teacher decisions they save.

The engine's agreement with human graders is measured by ``service.evaluate``, whose dataset
loading and grader building these modules import rather than repeat.
"""
