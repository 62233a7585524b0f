"""The ``sargas`` command: thin wrappers that parse options and call the parts.

Conventions every subcommand keeps: ``--broker mqtt://host:port`` (default
``SARGAS_BROKER``, else ``mqtt://127.0.0.1:1883``) and ``--prefix`` for anything that
talks to a broker, ``--host``/``--port`` for anything that serves HTTP, ``--data-dir``
for state. Exit codes: 0 success, 1 runtime failure (e.g. broker unreachable),
2 usage error (bad option, missing or bad file). User errors print one line, no traceback.
"""

from __future__ import annotations

import os
import sys

from api.cli import offline, services, simulate  # noqa: F401  (registers the subcommands)
from api.cli.common import app


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
