"""``python -m server``: see ``server.cli``."""

from server.cli import main

raise SystemExit(main())
