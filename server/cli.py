"""``python -m server``: run the sync server, migrate its database, manage workstations and tokens.

    python -m server --db-url URL --host 127.0.0.1 --port 8470          (serve is the default)
    python -m server --host 0.0.0.0 --certfile cert.pem --keyfile key.pem       (HTTPS)
    python -m server register-workstation ws-03 --db-url URL            (prints its token)
    python -m server issue-token --role supervisor --name "J. Doe" --db-url URL
    python -m server revoke-token 7 --db-url URL
    python -m server migrate --db-url URL
    python -m server show-key                      (the public key that verifies checkpoints)
    python -m server registry import registry.json --db-url URL      (owners, cameras, policies)
    python -m server retention [--dry-run] --retention-days 365 --db-url URL   (old evidence)

The database URL comes from ``--db-url``, else ``BEACON_SERVER_DB_URL``, else an SQLite file in
the user's data directory. The checkpoint signing key (Ed25519, PEM) is read from
``--checkpoint-key``, else ``BEACON_SERVER_CHECKPOINT_KEY``, else ``checkpoint-key.pem`` in that
data directory; ``serve`` and ``show-key`` make it there (mode 0600) if it does not exist. The
evidence vault's key is ``--vault-key``, else ``BEACON_SERVER_VAULT_KEY``, else ``vault-key``
beside the checkpoint key (made there, 0600, by ``serve``); its files are kept in ``--vault-dir``,
else ``BEACON_SERVER_VAULT_DIR``, else ``evidence-vault`` beside the vault key. The agency's
key that signs case packages (Ed25519, PEM) is ``--agency-key``, else
``BEACON_SERVER_AGENCY_KEY``, else ``agency-key.pem`` beside the checkpoint key (made there,
0600, by ``serve``). The evidence retention period is ``--retention-days``, else
``BEACON_SERVER_RETENTION_DAYS``, else none (evidence is kept until an administrator deletes it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import ssl
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import platformdirs
from pydantic import ValidationError

from app.evidence.agency_key import AgencyKeyError
from app.models.audit_chain import format_time
from server.checkpoint_key import CheckpointKeyError, CheckpointSigner
from server.clock import utc_now
from server.config import ServerSettings
from server.database import ServerDatabaseError, create_server_engine, migrate, session_factory
from server.evidence_retention import apply_retention
from server.evidence_vault import EvidenceVault, VaultKeyError, load_vault_key
from server.models import TokenRole
from server.registry import (
    ChangeLog,
    RegistryProblem,
    RegistryRejected,
    import_registry,
    problems_from_validation,
)
from server.schemas import RegistryImport
from server.tokens import IssuedSecret, RegistryConflict, issue_token, register_workstation
from server.tokens import revoke_token as revoke_stored_token

log = logging.getLogger(__name__)
COMMANDS = (
    "serve",
    "migrate",
    "register-workstation",
    "issue-token",
    "revoke-token",
    "show-key",
    "registry",
    "retention",
)
DEFAULT_PORT = 8470


def _data_folder() -> Path:
    folder = platformdirs.user_data_path("beacon-server", appauthor=False)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_db_url() -> str:
    from_env = os.environ.get("BEACON_SERVER_DB_URL")
    if from_env:
        return from_env
    return f"sqlite:///{_data_folder() / 'server.sqlite3'}"


def default_checkpoint_key() -> Path:
    from_env = os.environ.get("BEACON_SERVER_CHECKPOINT_KEY")
    if from_env:
        return Path(from_env)
    return _data_folder() / "checkpoint-key.pem"


def default_vault_key(checkpoint_key: Path | None = None) -> Path:
    """Beside the checkpoint key unless ``BEACON_SERVER_VAULT_KEY`` says otherwise."""
    from_env = os.environ.get("BEACON_SERVER_VAULT_KEY")
    if from_env:
        return Path(from_env)
    return (checkpoint_key or default_checkpoint_key()).parent / "vault-key"


def default_agency_key(checkpoint_key: Path | None = None) -> Path:
    """Beside the checkpoint key unless ``BEACON_SERVER_AGENCY_KEY`` says otherwise."""
    from_env = os.environ.get("BEACON_SERVER_AGENCY_KEY")
    if from_env:
        return Path(from_env)
    return (checkpoint_key or default_checkpoint_key()).parent / "agency-key.pem"


def default_vault_dir(vault_key: Path) -> Path:
    """Beside the vault key unless ``BEACON_SERVER_VAULT_DIR`` says otherwise."""
    from_env = os.environ.get("BEACON_SERVER_VAULT_DIR")
    if from_env:
        return Path(from_env)
    return vault_key.parent / "evidence-vault"


def _days(text: str) -> int:
    days = int(text)
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError("give a lifetime of 1 to 3650 days")
    return days


def _retention_days(text: str) -> int | None:
    if text.strip().lower() in ("", "none"):
        return None
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= 36_500:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a retention period: give 1 to 36500 days, or none to keep evidence "
            "until an administrator deletes it"
        )
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__.splitlines()[0])
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db-url", help="SQLAlchemy URL of the server's database")
    key = argparse.ArgumentParser(add_help=False)
    key.add_argument(
        "--checkpoint-key", type=Path, help="the Ed25519 key file that signs checkpoints (PEM)"
    )
    lifetime = argparse.ArgumentParser(add_help=False)
    lifetime.add_argument("--expires-in-days", type=_days, default=None)
    lifetime.add_argument("--name", default="", help="who or what holds the token")
    commands = parser.add_subparsers(dest="command", required=True)
    retention_days = argparse.ArgumentParser(add_help=False)
    retention_days.add_argument(
        "--retention-days",
        type=_retention_days,
        default=os.environ.get("BEACON_SERVER_RETENTION_DAYS"),
        help="days evidence is kept unless its incident is under legal hold (default: kept "
        "until an administrator deletes it)",
    )

    serve = commands.add_parser(
        "serve", parents=[database, key, retention_days], help="run the server (default)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--certfile",
        "--ssl-certfile",
        dest="certfile",
        type=Path,
        help="serve HTTPS with this certificate (PEM, with its chain); needs --keyfile",
    )
    serve.add_argument(
        "--keyfile", "--ssl-keyfile", dest="keyfile", type=Path, help="its private key (PEM)"
    )
    serve.add_argument("--max-batch-events", type=int)
    serve.add_argument(
        "--vault-key",
        type=Path,
        help="the key file that seals the evidence vault (made if missing)",
    )
    serve.add_argument("--vault-dir", type=Path, help="where the encrypted evidence is kept")
    serve.add_argument(
        "--agency-key",
        type=Path,
        help="the agency's Ed25519 key file that signs case packages (PEM, made if missing)",
    )
    serve.add_argument(
        "--public-url",
        help="the address owners reach the server at, for upload links (https://...)",
    )
    serve.add_argument("--max-batch-bytes", type=int)
    retention = commands.add_parser(
        "retention",
        parents=[database, key, retention_days],
        help="apply the evidence retention policy now: delete evidence older than the period "
        "(not under legal hold), expire footage requests, discard their unfinished uploads",
    )
    retention.add_argument("--dry-run", action="store_true", help="print it, change nothing")
    retention.add_argument("--vault-key", type=Path, help="the key file of the evidence vault")
    retention.add_argument("--vault-dir", type=Path, help="where the encrypted evidence is kept")

    commands.add_parser(
        "migrate", parents=[database], help="bring the database to the newest schema"
    )

    register = commands.add_parser(
        "register-workstation", parents=[database, lifetime], help="register and issue a token"
    )
    register.add_argument("workstation_id")
    register.add_argument("--description", default="")

    issue = commands.add_parser("issue-token", parents=[database, lifetime], help="issue a token")
    issue.add_argument("--role", choices=[role.value for role in TokenRole], required=True)
    issue.add_argument("--workstation", help="the workstation of a workstation token")
    issue.add_argument("--owner", help="the owner (in the server's registry) of an owner token")

    revoke = commands.add_parser("revoke-token", parents=[database], help="revoke a token")
    revoke.add_argument("token_id", type=int)

    commands.add_parser(
        "show-key", parents=[key], help="print the public key that verifies checkpoints"
    )

    registry = commands.add_parser("registry", help="the camera registry workstations pull")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    load = registry_commands.add_parser(
        "import",
        parents=[database],
        help="import a registry file (JSON, docs/registry-format.md), all or nothing",
    )
    load.add_argument("file", type=Path)
    return parser


def _print_token(issued: IssuedSecret) -> None:
    token = issued.token
    print(f"token id {token.id}, role {token.role}, expires {format_time(token.expires_at)}")
    print(issued.secret)


def _serve(args: argparse.Namespace, db_url: str) -> int:
    import uvicorn

    from server.app import create_app

    limits = {
        key: value
        for key, value in (
            ("max_batch_events", args.max_batch_events),
            ("max_batch_bytes", args.max_batch_bytes),
        )
        if value is not None
    }
    vault_key = args.vault_key or default_vault_key(args.checkpoint_key)
    settings = ServerSettings(
        **limits,
        checkpoint_key_file=args.checkpoint_key or default_checkpoint_key(),
        vault_key_file=vault_key,
        vault_folder=args.vault_dir or default_vault_dir(vault_key),
        agency_key_file=args.agency_key or default_agency_key(args.checkpoint_key),
        public_url=args.public_url,
        evidence_retention_days=args.retention_days,
    )
    _check_tls(args.certfile, args.keyfile, args.host)
    application = create_app(db_url, settings=settings)
    uvicorn.run(
        application,
        host=args.host,
        port=args.port,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
        log_level="info",
    )
    return 0


class TlsSetupError(Exception):
    """The certificate or key cannot serve HTTPS; the message says which and why."""


def _check_tls(certfile: Path | None, keyfile: Path | None, host: str) -> None:
    """Refuse a half or unusable TLS set-up before serving, in words rather than a trace."""
    if certfile is None and keyfile is None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            log.warning(
                "serving plain HTTP on %s: workstation tokens travel in the clear; give "
                "--certfile and --keyfile to serve HTTPS",
                host,
            )
        return
    if certfile is None or keyfile is None:
        raise TlsSetupError("HTTPS needs both --certfile and --keyfile")
    for path in (certfile, keyfile):
        if not path.is_file():
            raise TlsSetupError(f"{path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(
            f"the certificate {certfile} and key {keyfile} cannot serve HTTPS ({exc}): give a "
            "PEM certificate and its matching, unencrypted private key"
        ) from None
    log.info("serving HTTPS with the certificate %s", certfile)


def _administer(args: argparse.Namespace, db_url: str) -> int:
    engine = create_server_engine(db_url)
    try:
        migrate(engine)
        if args.command == "migrate":
            print("the database is at the newest schema")
            return 0
        now = utc_now()
        days = timedelta(
            days=getattr(args, "expires_in_days", None) or ServerSettings().default_token_days
        )
        with session_factory(engine).begin() as session:
            if args.command == "register-workstation":
                register_workstation(session, args.workstation_id, now, args.description)
                issued = issue_token(
                    session,
                    TokenRole.WORKSTATION,
                    now,
                    days,
                    workstation_id=args.workstation_id,
                    name=args.name or args.workstation_id,
                )
                _print_token(issued)
            elif args.command == "issue-token":
                role = TokenRole(args.role)
                issued = issue_token(
                    session,
                    role,
                    now,
                    days,
                    workstation_id=args.workstation,
                    owner_id=args.owner,
                    name=args.name,
                )
                _print_token(issued)
            else:
                token = revoke_stored_token(session, args.token_id, now)
                assert token.revoked_at is not None
                print(f"token {token.id} ({token.role}) revoked at {format_time(token.revoked_at)}")
        return 0
    finally:
        engine.dispose()


def _retention(args: argparse.Namespace, db_url: str) -> int:
    """Exit 0 applied (or, with --dry-run, printed), 2 the vault cannot be opened."""
    vault_key = args.vault_key or default_vault_key(args.checkpoint_key)
    vault_dir = args.vault_dir or default_vault_dir(vault_key)
    for path, what, option in (
        (vault_key, "vault key", "--vault-key"),
        (vault_dir, "vault", "--vault-dir"),
    ):
        if not path.exists():
            print(
                f"error: there is no {what} at {path}; give the server's with {option}",
                file=sys.stderr,
            )
            return 2
    try:
        vault = EvidenceVault(vault_dir, load_vault_key(vault_key))
    except VaultKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = ServerSettings(evidence_retention_days=args.retention_days)
    engine = create_server_engine(db_url)
    try:
        migrate(engine)
        report = apply_retention(
            session_factory(engine), vault, utc_now(), settings, dry_run=args.dry_run
        )
    finally:
        engine.dispose()
    for line in report.lines():
        print(line)
    return 0


def _show_key(args: argparse.Namespace) -> int:
    path = args.checkpoint_key or default_checkpoint_key()
    signer = CheckpointSigner.from_file(path)
    print(f"checkpoint key {path}")
    print(f"algorithm {signer.algorithm}, key id {signer.key_id}")
    print(f"public key {signer.public_key.hex()}")
    print(signer.public_key_pem, end="")
    return 0


def _import_registry(path: Path, db_url: str) -> int:
    """Exit 0 imported (also when nothing changed), 1 invalid rows (nothing imported), 2 the
    file cannot be read; as ``beacon registry import`` on a workstation."""
    try:
        document = RegistryImport.model_validate(json.loads(path.read_text(encoding="utf-8-sig")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"error: {path} cannot be read as a JSON registry file: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        return _print_problems(path, problems_from_validation(exc.errors()))
    engine = create_server_engine(db_url)
    try:
        migrate(engine)
        with session_factory(engine).begin() as session:
            log = ChangeLog(session, utc_now())
            counts = import_registry(log, document.owners, document.cameras, document.policies)
            latest = log.latest_version
    except RegistryRejected as exc:
        return _print_problems(path, exc.problems)
    finally:
        engine.dispose()
    print(
        f"{path}: owners {counts.owners_created} new, {counts.owners_updated} updated; cameras "
        f"{counts.cameras_created} new, {counts.cameras_updated} updated; "
        f"{counts.policy_versions_added} policy versions added; {counts.unchanged} records "
        f"unchanged; registry version {latest}"
    )
    return 0


def _print_problems(path: Path, problems: Sequence[RegistryProblem]) -> int:
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"error: {path} has invalid rows; nothing was imported", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in {*COMMANDS, "-h", "--help"}:
        arguments.insert(0, "serve")
    args = _parser().parse_args(arguments)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "show-key":
            return _show_key(args)
        db_url = args.db_url or default_db_url()
        if args.command == "serve":
            return _serve(args, db_url)
        if args.command == "registry":
            return _import_registry(args.file, db_url)
        if args.command == "retention":
            return _retention(args, db_url)
        return _administer(args, db_url)
    except (
        ServerDatabaseError,
        RegistryConflict,
        CheckpointKeyError,
        AgencyKeyError,
        TlsSetupError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: {problems}", file=sys.stderr)
        return 2
