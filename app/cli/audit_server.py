"""``beacon server …``: the audit sync server (``server/``), run from the same command.

Everything after ``server`` is the server's own command line (``python -m server``): ``beacon
server --db-url URL --host HOST --port PORT``, ``beacon server migrate``, ``beacon server
register-workstation ID``... The server is a separate deployable with its own dependencies
(``pip install 'beacon-rtcc[server]'``); a console installed without them says so.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CommandContext, CommandError


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    server = subcommands.add_parser(
        "server",
        help="run or administer the audit sync server (options: beacon server --help)",
        add_help=False,
    )
    server.add_argument("arguments", nargs=argparse.REMAINDER)
    server.set_defaults(handler=run_server)


def run_server(context: CommandContext, args: argparse.Namespace) -> int:
    try:
        from server.cli import main as server_main
    except ImportError as exc:
        raise CommandError(
            f"the audit sync server is not installed here ({exc.name} is missing): install "
            "beacon-rtcc[server] on the server machine"
        ) from None
    return server_main(args.arguments)
