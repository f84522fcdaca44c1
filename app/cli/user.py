"""``beacon user add|list|disable``: the workstation's local accounts, for administrators."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from sqlalchemy import select

from app.cli.context import CommandContext, CommandError, os_actor
from app.models.audit_chain import AuditEventType
from app.models.user import Role, User
from app.services.accounts import MIN_PASSWORD_LENGTH, create_user


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    user = subcommands.add_parser("user", help="manage local user accounts")
    actions = user.add_subparsers(title="user commands", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        parents=[common],
        help="create an account (password prompted, or --password-stdin)",
    )
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.add_argument("username")
    add.add_argument("--role", choices=[role.value for role in Role], required=True)
    add.add_argument("--name", help="display name (default: the user name)")
    add.set_defaults(handler=run_add)
    listing = actions.add_parser("list", parents=[common], help="list accounts")
    listing.set_defaults(handler=run_list)
    disable = actions.add_parser("disable", parents=[common], help="stop an account signing in")
    disable.add_argument("username")
    disable.set_defaults(handler=run_disable)


def _new_password(from_stdin: bool) -> str:
    # Never an argument: arguments show in `ps` and in shell history.
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask for the password; use --password-stdin")
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise CommandError("the two passwords differ; nothing was changed")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CommandError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return password


def run_add(context: CommandContext, args: argparse.Namespace) -> int:
    password = _new_password(args.password_stdin)
    with context.sessions()() as session:
        if session.scalar(select(User).where(User.username == args.username)) is not None:
            raise CommandError(f"user {args.username!r} already exists")
        context.audit_log().record(
            AuditEventType.USER_ADMIN,
            actor=os_actor(),
            subject=args.username,
            details={"action": "add", "role": args.role},
        )
        create_user(
            session,
            args.username,
            args.name or args.username,
            Role(args.role),
            password,
            context.clock,
        )
        session.commit()
    print(f"created {args.role} {args.username}")
    return 0


def run_list(context: CommandContext, args: argparse.Namespace) -> int:
    with context.sessions()() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "disabled"
            print(f"{user.username:<20} {user.role.value:<11} {state:<9} {user.display_name}")
    return 0


def run_disable(context: CommandContext, args: argparse.Namespace) -> int:
    with context.sessions()() as session:
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            raise CommandError(f"no user {args.username!r}")
        context.audit_log().record(
            AuditEventType.USER_ADMIN,
            actor=os_actor(),
            subject=args.username,
            details={"action": "disable"},
        )
        user.active = False
        session.commit()
    print(f"disabled {args.username}")
    return 0
