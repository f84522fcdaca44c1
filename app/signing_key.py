"""Ed25519 signing keys kept in PEM files: made once, for their owner only, checked on load.

One implementation for every key Beacon signs with: the sync server's checkpoint key
(``server.checkpoint_key``) and the agency's evidence key (``app.evidence.agency_key``). It sits
beside ``app.settings`` rather than in ``app.services`` because the server, which may not import
the workstation's services, uses it too.

The file holds the private key unencrypted (PKCS #8 PEM), readable by its owner only (0600 on
POSIX); it is created atomically (written beside, then hard-linked into place), so two processes
starting at once on one key path end up with the same key. A key file others can read is used
with a warning. Each caller names its key in a ``KeyFileRole``, so the errors say which key and
what to do.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.models.checkpoint import KEY_ALGORITHM

log = logging.getLogger(__name__)


class SigningKeyError(Exception):
    """The key file cannot be used; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class KeyFileRole:
    """The words a key file's errors use: ``name`` ("checkpoint key"), what it ``signs``
    ("checkpoints"), and how to give it another path (``writable_hint``)."""

    name: str
    signs: str
    writable_hint: str


@dataclass(frozen=True, slots=True)
class KeyFile:
    private_key: Ed25519PrivateKey
    created: bool
    """True when this call made the key (the caller says so, naming its key id)."""


def load_or_create(path: Path, role: KeyFileRole) -> KeyFile:
    """The key in ``path``, made there first if the file does not exist."""
    created = False
    if not path.exists():
        created = _create(path, role)
    return KeyFile(_load(path, role), created)


def _create(path: Path, role: KeyFileRole) -> bool:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(prefix=".signing-key-", dir=path.parent)
    except OSError as exc:
        raise SigningKeyError(
            f"cannot create the {role.name} in {path.parent}: {exc.strerror}; {role.writable_hint}"
        ) from exc
    try:
        # mkstemp makes the file 0600 already; say so for the platforms where it matters.
        os.chmod(temporary, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False  # another process made it first: use theirs
        return True
    except OSError as exc:
        raise SigningKeyError(f"cannot write the {role.name} {path}: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


def _load(path: Path, role: KeyFileRole) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise SigningKeyError(f"cannot read the {role.name} {path}: {exc.strerror}") from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the %s %s can be read by others (mode %o); chmod 600 it",
            role.name,
            path,
            stat.S_IMODE(mode),
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{path} is not an unencrypted PEM private key ({exc}); give the {role.name} "
            "file, or a path where none exists yet to make one"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(
            f"{path} holds a {type(key).__name__.removeprefix('_')}; {role.signs} are signed "
            f"with an {KEY_ALGORITHM} key"
        )
    return key
