"""Documented limits on what one rubric may contain, so that compiling it and grading an
answer with it take bounded time and memory whoever wrote it.

The values are generous for a real teacher (the shipped rubrics use a fraction of each) and
small enough that a rubric at every limit still compiles in seconds and grades a
10,000-character answer in well under a second. ``Grader`` enforces them for every caller
(files, the API, ``service.evaluate``); the rubric document schema repeats them so that a
request is refused before anything is compiled. A violation names the field.
"""

from __future__ import annotations

MAX_TITLE_CHARS = 200
MAX_PROMPT_CHARS = 5_000
MAX_CRITERIA = 50
MAX_PHRASINGS_PER_CRITERION = 50
# Words as the tokenizer counts them, stop words included ("de-escalate" is two words).
MAX_PHRASING_WORDS = 20
MAX_PHRASING_CHARS = 200
MAX_DESCRIPTION_CHARS = 2_000
MAX_FEEDBACK_CHARS = 2_000
MAX_REFERENCE_ANSWERS = 20
MAX_REFERENCE_CHARS = 5_000
# All background text together (the document form is one string, one line per document).
MAX_BACKGROUND_CHARS = 50_000
# Graded answers (scored neighbours and calibration data): count, each one's length (the
# answer limit), and all of them together.
MAX_GRADED_ANSWERS = 5_000
MAX_GRADED_ANSWER_CHARS = 10_000
MAX_GRADED_TOTAL_CHARS = 1_000_000
