"""Secrets in the OS keyring, never in the database, the settings or a log: camera credentials
keyed by camera id, and a few named secrets of the workstation (the SMTP password), kept under a
service of their own so that no camera id can ever read or overwrite one.

Only real OS keyrings are accepted (Secret Service, KWallet, macOS Keychain, Windows Credential
Locker). ``keyring`` falls back to a plaintext file when none is present; Beacon refuses that
unless the settings say ``keyring_backend = "file"``, an explicit opt-in for tests and demo
machines that the console shows in its status bar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyrings.alt.file import PlaintextKeyring

from app.settings import Settings

SERVICE = "beacon-rtcc/camera"
SECRET_SERVICE = "beacon-rtcc/secret"  # noqa: S105 (a keyring service name)
SECURE_BACKEND_MODULES = (
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
)


class InsecureKeyringError(Exception):
    """No OS keyring is available and no explicit opt-in to a file keyring was made."""


class CredentialStoreError(Exception):
    """The keyring refused a read or a write; the message is safe to show (no secret in it)."""


@dataclass(frozen=True, slots=True)
class CameraCredentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"CameraCredentials(username={self.username!r}, password='***')"


class _FileKeyring(PlaintextKeyring):  # type: ignore[misc]
    """keyrings.alt's file keyring, placed in the data directory instead of the home dir."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path

    @property
    def file_path(self) -> str:
        return str(self._path)


def _is_secure(backend: keyring.backend.KeyringBackend) -> bool:
    chained = getattr(backend, "backends", None)
    if chained is not None:
        return bool(chained) and all(_is_secure(inner) for inner in chained)
    return type(backend).__module__.startswith(SECURE_BACKEND_MODULES)


class CredentialStore:
    """Reads and writes camera credentials and named secrets through one keyring backend."""

    def __init__(self, backend: keyring.backend.KeyringBackend, *, insecure: bool) -> None:
        self._backend = backend
        self.insecure = insecure

    @classmethod
    def for_settings(cls, settings: Settings) -> CredentialStore:
        if settings.security.keyring_backend == "file":
            settings.keyring_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = settings.keyring_dir / "credentials.cfg"
            return cls(_FileKeyring(path), insecure=True)
        backend = keyring.get_keyring()
        if not _is_secure(backend):
            raise InsecureKeyringError(
                f"no OS keyring is available (found {type(backend).__module__}."
                f"{type(backend).__name__}); camera passwords would be kept unprotected. Start "
                "the desktop's keyring service (Secret Service/KWallet), or, on a test or demo "
                'machine only, set keyring_backend = "file" under [security] in the settings.'
            )
        return cls(backend, insecure=False)

    @property
    def backend_name(self) -> str:
        kind = type(self._backend)
        return "file (insecure)" if self.insecure else f"{kind.__module__}.{kind.__name__}"

    def set(self, camera_id: str, credentials: CameraCredentials) -> None:
        value = json.dumps({"username": credentials.username, "password": credentials.password})
        try:
            self._backend.set_password(SERVICE, camera_id, value)
        except keyring.errors.KeyringError as exc:
            raise CredentialStoreError(
                f"the keyring refused to store credentials for camera {camera_id}: "
                f"{type(exc).__name__}"
            ) from None

    def get(self, camera_id: str) -> CameraCredentials | None:
        try:
            value = self._backend.get_password(SERVICE, camera_id)
        except keyring.errors.KeyringError as exc:
            raise CredentialStoreError(
                f"the keyring could not be read for camera {camera_id}: {type(exc).__name__}"
            ) from None
        if value is None:
            return None
        data = json.loads(value)
        return CameraCredentials(str(data["username"]), str(data["password"]))

    def delete(self, camera_id: str) -> None:
        try:
            self._backend.delete_password(SERVICE, camera_id)
        except keyring.errors.PasswordDeleteError:
            return

    def set_secret(self, name: str, value: str) -> None:
        try:
            self._backend.set_password(SECRET_SERVICE, name, value)
        except keyring.errors.KeyringError as exc:
            raise CredentialStoreError(
                f"the keyring refused to store the secret {name}: {type(exc).__name__}"
            ) from None

    def get_secret(self, name: str) -> str | None:
        try:
            return self._backend.get_password(SECRET_SERVICE, name)
        except keyring.errors.KeyringError as exc:
            raise CredentialStoreError(
                f"the keyring could not be read for the secret {name}: {type(exc).__name__}"
            ) from None

    def delete_secret(self, name: str) -> None:
        try:
            self._backend.delete_password(SECRET_SERVICE, name)
        except keyring.errors.PasswordDeleteError:
            return
