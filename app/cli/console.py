"""``beacon`` / ``beacon console``: the operator console window."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CommandContext
from app.services.first_run import FirstRunPlan
from app.settings import default_config_path


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    console = subcommands.add_parser("console", parents=[common], help="open the console")
    console.set_defaults(handler=run)


def run(context: CommandContext, args: argparse.Namespace) -> int:
    from app.shell import run_console

    settings = context.settings
    if args.config is None and not default_config_path().is_file():
        # No settings yet: the first-run wizard, then the sign-in as usual.
        from app.cli.setup import set_up

        settings = set_up(context, args, "Save and sign in")
    exit_code: int = run_console(settings)
    return exit_code


def open_first_run(plan: FirstRunPlan, finish_text: str) -> bool:
    """The first-run wizard (``beacon`` with no settings, ``beacon setup``); True when it
    wrote the settings, False when it was cancelled."""
    from app.shell import run_first_run

    return run_first_run(plan, finish_text=finish_text)
