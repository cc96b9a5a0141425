"""``python -m service``: the ``grader`` command line (service/cli)."""

from __future__ import annotations

import sys

from service.cli import main
from service.cli.database import alembic_config
from service.cli.server import bootstrap

__all__ = ["alembic_config", "bootstrap", "main"]

if __name__ == "__main__":
    sys.exit(main())
