"""``python -m api.cli``: the same as the ``sargas`` command."""

from api.cli import main

main()
