"""What the console's grade forms share: reading the points a teacher typed."""

from __future__ import annotations

import math

from service.web.i18n import gettext as _


def points_error(points: str) -> str | None:
    """Why the points typed in a grade form cannot be used, or None. Anything but a finite
    number (NaN and infinity parse as floats) asks for a number; the maximum is the domain's
    check, which names the question's."""
    try:
        value = float(points.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return _("Enter the points as a number, e.g. 7 or 7.5.")
    if value < 0:
        return _("Points cannot be negative.")
    return None
