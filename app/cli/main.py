"""Argument parsing and the error boundary of the ``beacon`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from app import __version__
from app.cli import (
    audit,
    audit_server,
    camera,
    console,
    demo,
    evidence,
    install,
    policy,
    registry,
    self_test,
    setup,
    smtp,
    sync,
    user,
    verify,
)
from app.cli.context import CommandContext, CommandError
from app.services.audit_log import AuditLogUnavailable, AuditWriteError
from app.services.sqlite_store import DatabaseOpenError
from app.settings import SettingsError, load_settings

log = logging.getLogger(__name__)

Handler = Callable[[CommandContext, argparse.Namespace], int]
SUBCOMMANDS = (
    audit,
    audit_server,
    camera,
    demo,
    evidence,
    install,
    policy,
    registry,
    self_test,
    setup,
    smtp,
    sync,
    user,
    verify,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beacon", description="Beacon, the real-time crime center operator console."
    )
    parser.add_argument("--version", action="version", version=f"beacon {__version__}")
    parser.add_argument("--config", type=Path, help="settings file (TOML)")
    parser.add_argument("--data-dir", type=Path, help="data directory (databases, audit log)")
    # The same options after a subcommand; SUPPRESS keeps them from erasing earlier values.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="settings file")
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="data directory")
    parser.set_defaults(handler=console.run)
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND")
    console.register(subcommands, common)
    for module in SUBCOMMANDS:
        module.register(subcommands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    context: CommandContext | None = None
    try:
        settings = load_settings(args.config, args.data_dir)
        context = CommandContext(settings)
        handler: Handler = args.handler
        return handler(context, args)
    except CommandError as exc:
        print(f"beacon: {exc}", file=sys.stderr)
        return exc.exit_code
    except (SettingsError, DatabaseOpenError, AuditLogUnavailable, AuditWriteError) as exc:
        print(f"beacon: {exc}", file=sys.stderr)
        return 2
    finally:
        if context is not None:
            context.close()
