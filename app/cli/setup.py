"""``beacon setup``: the first-run wizard on purpose, to connect (or reconnect) this workstation
to the agency's Beacon server, or to set it up with the demo city.

``beacon`` opens the same wizard by itself when there is no settings file at the default path
and no ``--config``. The wizard writes the settings file (``--config PATH``, else the default
one) and keeps the workstation's token in the keyring; cancelled, it writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import platformdirs

from app.cli import console
from app.cli.context import CommandContext, CommandError, os_actor
from app.services.first_run import FirstRunPlan
from app.settings import APP_NAME, Settings, default_config_path, load_settings

CANCELLED = (
    "set-up cancelled: nothing was written. Run `beacon setup` (or `beacon`) again when you "
    "have the server's address and this workstation's token, or choose the demo city"
)


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    setup = subcommands.add_parser(
        "setup",
        parents=[common],
        help="connect this workstation to the agency's server, or to the demo city (a wizard)",
    )
    setup.set_defaults(handler=run)


def first_run_plan(context: CommandContext, args: argparse.Namespace) -> FirstRunPlan:
    base = context.settings
    return FirstRunPlan(
        base=base,
        config_path=args.config or default_config_path(),
        actor=os_actor(),
        data_dir_is_default=base.data_dir == Path(platformdirs.user_data_dir(APP_NAME)),
    )


def set_up(context: CommandContext, args: argparse.Namespace, finish_text: str) -> Settings:
    """Run the wizard; the settings it wrote (with the environment and ``--data-dir``), or
    ``CommandError`` when it was cancelled."""
    if not console.open_first_run(first_run_plan(context, args), finish_text):
        raise CommandError(CANCELLED, exit_code=1)
    return load_settings(args.config, args.data_dir)


def run(context: CommandContext, args: argparse.Namespace) -> int:
    set_up(context, args, "Save")
    print(
        f"settings written to {args.config or default_config_path()}; open the console "
        "with `beacon`"
    )
    return 0
