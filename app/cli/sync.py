"""``beacon sync token``, ``beacon sync now`` and ``beacon sync registry``: the workstation and
the sync server.

The token is never an argument (arguments show in ``ps`` and shell history) and never goes into
the settings file: it is prompted for, or read from standard input, and kept in the keyring under
the workstation id and the server (``app.services.sync_link.sync_token_name``), so changing
``server_url`` never offers it to another server. ``sync now`` sends, once, every event the
server has not acknowledged and prints the state; ``sync registry`` applies, once, every registry
and policy change the server has that this workstation has not applied. The console does both in
the background.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.context import CommandContext, CommandError
from app.services.audit_sync import AuditSync, SyncPhase
from app.services.credentials import CredentialStore, CredentialStoreError, InsecureKeyringError
from app.services.registry_sync import RegistrySync, RegistrySyncPhase
from app.services.sync_link import sync_token_name
from app.settings import Settings


def register(subcommands: Any, common: argparse.ArgumentParser) -> None:
    sync = subcommands.add_parser(
        "sync", help="send the audit log to the sync server, take registry changes from it"
    )
    actions = sync.add_subparsers(title="sync commands", metavar="ACTION", required=True)
    token = actions.add_parser(
        "token",
        parents=[common],
        help="store this workstation's sync token in the keyring (prompted, or --token-stdin)",
    )
    token.add_argument(
        "--token-stdin", action="store_true", help="read the token from standard input"
    )
    token.set_defaults(handler=run_token)
    now = actions.add_parser(
        "now",
        parents=[common],
        help="send the events the server has not acknowledged, once, and print the state",
    )
    now.set_defaults(handler=run_now)
    registry = actions.add_parser(
        "registry",
        parents=[common],
        help="apply the registry and policy changes from the server, once, and print the state",
    )
    registry.set_defaults(handler=run_registry)


def _configured(settings: Settings) -> str:
    if settings.sync.server_url is None:
        raise CommandError(
            "set server_url under [sync] in the settings first: the token is kept for that "
            "server, and events go there"
        )
    return settings.sync.server_url


def _credentials(settings: Settings) -> CredentialStore:
    try:
        return CredentialStore.for_settings(settings)
    except InsecureKeyringError as exc:
        raise CommandError(str(exc)) from None


def run_token(context: CommandContext, args: argparse.Namespace) -> int:
    settings = context.settings
    server = _configured(settings)
    workstation = settings.sync_workstation_id
    if args.token_stdin:
        token = sys.stdin.readline().strip()
    else:
        if not sys.stdin.isatty():
            raise CommandError("no terminal to ask for the token; use --token-stdin")
        token = getpass.getpass(f"Sync token of workstation {workstation} at {server}: ").strip()
    if not token:
        raise CommandError("an empty token was not stored")
    if any(character.isspace() or not character.isprintable() for character in token):
        raise CommandError(
            "that is not a token (it holds spaces or control characters); paste the line "
            "`python -m server register-workstation` printed"
        )
    try:
        _credentials(settings).set_secret(sync_token_name(settings), token)
    except CredentialStoreError as exc:
        raise CommandError(str(exc)) from None
    print(f"stored the sync token of workstation {workstation} at {server} in the keyring")
    return 0


def run_now(context: CommandContext, args: argparse.Namespace) -> int:
    settings = context.settings
    _configured(settings)
    if not settings.audit_db.is_file():
        raise CommandError(f"{settings.audit_db}: no audit log here yet; nothing to send")
    sync = AuditSync.from_settings(settings, _credentials(settings), clock=context.clock)
    assert sync is not None
    state = sync.sync_once()
    print(state.text(context.clock()))
    if state.detail:
        print(state.detail)
    print(
        f"workstation {sync.workstation_id} at {sync.server_url}: "
        f"{state.acknowledged_seq} of {state.local_seq} events acknowledged, "
        f"{state.stored} sent now"
    )
    return 0 if state.phase is SyncPhase.SYNCED else 1


def run_registry(context: CommandContext, args: argparse.Namespace) -> int:
    settings = context.settings
    _configured(settings)
    sync = RegistrySync.from_settings(
        settings,
        _credentials(settings),
        sessions=context.sessions(),
        audit=context.audit_log(),
        clock=context.clock,
    )
    assert sync is not None
    state = sync.pull_once()
    print(state.text())
    if state.detail:
        print(state.detail)
    print(f"{state.applied} changes applied now, {state.skipped} skipped, from {sync.server_url}")
    return 0 if state.phase is RegistrySyncPhase.CURRENT else 1
