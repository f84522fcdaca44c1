"""``beacon smtp password``: keep the mail server's password in the keyring, for footage requests.

The password is never an argument (arguments show in ``ps`` and shell history) and never goes
into the settings file: it is prompted for, or read from standard input, and stored under the
``[smtp]`` user and host, so changing the host never offers it to another server.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.context import CommandContext, CommandError
from app.services.credentials import CredentialStore, CredentialStoreError, InsecureKeyringError
from app.services.smtp_mailer import smtp_password_name


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    smtp = subcommands.add_parser("smtp", help="the mail server footage requests go out through")
    actions = smtp.add_subparsers(title="smtp commands", metavar="ACTION", required=True)
    password = actions.add_parser(
        "password",
        parents=[common],
        help="store the [smtp] user's password in the keyring (prompted, or --password-stdin)",
    )
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    password.set_defaults(handler=run_password)


def run_password(context: CommandContext, args: argparse.Namespace) -> int:
    smtp = context.settings.smtp
    if smtp.host is None or smtp.username is None:
        raise CommandError(
            "set host and username under [smtp] in the settings first: the password is kept "
            "for that user at that host"
        )
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask for the password; use --password-stdin")
        password = getpass.getpass(f"Password of {smtp.username} at {smtp.host}: ")
    if not password:
        raise CommandError("an empty password was not stored")
    try:
        CredentialStore.for_settings(context.settings).set_secret(
            smtp_password_name(smtp), password
        )
    except (InsecureKeyringError, CredentialStoreError) as exc:
        raise CommandError(str(exc)) from None
    print(f"stored the password of {smtp.username} at {smtp.host} in the keyring")
    return 0
