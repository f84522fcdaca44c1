"""``beacon self-test``: check that this installation of the console works (see app.self_test)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.context import CommandContext


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    self_test = subcommands.add_parser(
        "self-test",
        help="open the console on a throw-away demo city, sign in, paint, close, and report",
        description=(
            "Builds the demo city in a temporary directory (or uses --demo-dir), signs in as the "
            "demo operator through the sign-in dialog, waits for the main window to paint, quits "
            "like an operator and checks the exit, the audit chain and video decoding. Your own "
            "data and window layout are not touched. Exit code 0 when every check passes."
        ),
    )
    self_test.add_argument(
        "--demo-dir",
        type=Path,
        help="an existing demo city (beacon demo init) to use instead of a temporary one",
    )
    self_test.add_argument("--json", action="store_true", help="print the report as JSON")
    self_test.set_defaults(handler=run)


def run(_context: CommandContext, args: argparse.Namespace) -> int:
    from app.self_test import main

    return main(args.demo_dir, args.json)
