"""``beacon demo init|ensure``: build the generated demo city into a data directory."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CommandContext, CommandError, os_actor
from app.services.demo_city import (
    DEMO_SEED,
    SETTINGS_NAME,
    DemoCity,
    build_demo_city,
    has_registry,
    remove_demo_city,
)


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    demo = subcommands.add_parser("demo", help="build the demo city (generated, never downloaded)")
    actions = demo.add_subparsers(title="demo commands", metavar="ACTION", required=True)

    init = actions.add_parser(
        "init", parents=[common], help="build the demo city into --data-dir DIR"
    )
    init.add_argument(
        "--force",
        action="store_true",
        help="replace an existing registry in DIR (the audit log is kept)",
    )
    init.add_argument("--seed", type=int, default=DEMO_SEED, help=argparse.SUPPRESS)
    init.set_defaults(handler=run_init)

    ensure = actions.add_parser(
        "ensure",
        parents=[common],
        help="build the demo city into --data-dir DIR only if DIR has no registry yet",
    )
    ensure.set_defaults(handler=run_ensure, seed=DEMO_SEED)


def _require_data_dir(args: argparse.Namespace) -> None:
    if getattr(args, "data_dir", None) is None:
        raise CommandError(
            "name the directory for the demo city with --data-dir DIR (the demo is never "
            "built into your own data directory by accident)"
        )


def _build(context: CommandContext, seed: int) -> DemoCity:
    city = build_demo_city(context.data_dir, context.clock, seed)
    city.record_import(context.audit_log(), os_actor(), context.settings.registry_db)
    print(city.describe())
    print(
        f"sign in as operator / beacon-operator (see the README for the other demo users); "
        f"settings in {context.data_dir / SETTINGS_NAME}"
    )
    return city


def run_init(context: CommandContext, args: argparse.Namespace) -> int:
    _require_data_dir(args)
    if has_registry(context.data_dir):
        if not args.force:
            raise CommandError(
                f"{context.data_dir} already has a registry ({context.settings.registry_db.name}"
                "); nothing was changed. Use --force to replace it with a fresh demo city "
                "(its owners, cameras and policies are deleted; the audit log is kept), or "
                "choose another --data-dir.",
                exit_code=1,
            )
        remove_demo_city(context.data_dir)
        print(f"removed the registry, clips and CAD script in {context.data_dir}")
    _build(context, args.seed)
    return 0


def run_ensure(context: CommandContext, args: argparse.Namespace) -> int:
    _require_data_dir(args)
    if has_registry(context.data_dir):
        print(f"{context.data_dir} already has a registry; nothing to do")
        return 0
    _build(context, args.seed)
    return 0
