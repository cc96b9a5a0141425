"""Errors raised by the scoring engine; the service layer translates them."""


class ScoringError(ValueError):
    """Base class for anything the engine refuses to do."""


class RubricError(ScoringError):
    """A rubric cannot be compiled: it would make grading fail or give wrong marks.

    ``field`` names the offending part (e.g. ``criteria[2].phrasings[0]``) so that a
    rubric author can find it.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
