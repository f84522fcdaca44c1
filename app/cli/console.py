"""``beacon`` / ``beacon console``: the operator console window."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CommandContext


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    console = subcommands.add_parser("console", parents=[common], help="open the console")
    console.set_defaults(handler=run)


def run(context: CommandContext, args: argparse.Namespace) -> int:
    from app.shell import run_console

    exit_code: int = run_console(context.settings)
    return exit_code
