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

import typer

from api.cli import offline, services, simulate  # noqa: F401  (registers the subcommands)
from api.cli.common import EXIT_USAGE, app

#: click's exceptions, wherever this typer takes click from (newer typers vendor it as ``typer._click``).
_click_errors = sys.modules[typer.BadParameter.__module__]
#: Raised for a bare command (the help is the message); older clicks have no such class.
_NoArgsIsHelp: tuple[type[Exception], ...] = tuple(
    getattr(_click_errors, name) for name in ("NoArgsIsHelpError",) if hasattr(_click_errors, name))


def main() -> None:
    """Console entry point: usage errors (bad option values included) are one line on stderr, exit 2."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        code = app(standalone_mode=False)
    except _NoArgsIsHelp as exc:
        typer.echo(exc.ctx.get_help(), err=True)  # type: ignore[attr-defined]
        sys.exit(EXIT_USAGE)
    except _click_errors.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "sargas"
        typer.echo(f"{command}: {exc.format_message()} (see '{command} --help')", err=True)
        sys.exit(EXIT_USAGE)
    except _click_errors.ClickException as exc:
        typer.echo(f"sargas: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
