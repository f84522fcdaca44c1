from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends.fail import Keyring as FailingKeyring

from app.models.camera import Camera, CameraTier
from app.models.stream_url import (
    CredentialsInUrlError,
    check_stream_url,
    redact_url,
    split_credentials,
    url_with_credentials,
)
from app.services.credentials import (
    CameraCredentials,
    CredentialStore,
    CredentialStoreError,
    InsecureKeyringError,
)
from app.settings import Settings, load_settings

PASSWORD = "p%w@d!:x"


def test_the_plaintext_fallback_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # what keyring picks on a machine with no OS keyring: keyrings.alt's plaintext file
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    settings = load_settings(None, tmp_path, env={})
    with pytest.raises(InsecureKeyringError, match="PlaintextKeyring"):
        CredentialStore.for_settings(settings)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with pytest.raises(InsecureKeyringError, match="no OS keyring"):
        CredentialStore.for_settings(settings)


def test_file_keyring_is_an_explicit_opt_in_inside_the_data_dir(settings: Settings):
    store = CredentialStore.for_settings(settings)
    assert store.insecure and store.backend_name == "file (insecure)"
    store.set("cam-1", CameraCredentials("viewer", PASSWORD))
    assert store.get("cam-1") == CameraCredentials("viewer", PASSWORD)
    assert store.get("cam-2") is None
    assert (settings.keyring_dir / "credentials.cfg").is_file()
    store.delete("cam-1")
    store.delete("cam-1")
    assert store.get("cam-1") is None


def test_credentials_never_show_in_repr():
    text = repr(CameraCredentials("viewer", PASSWORD))
    assert PASSWORD not in text and "***" in text


def test_the_database_refuses_urls_with_credentials():
    with pytest.raises(CredentialsInUrlError, match=r"keyring|credentials"):
        Camera(
            id="c",
            owner_id="o",
            name="n",
            tier=CameraTier.INTEGRATED,
            latitude=0,
            longitude=0,
            main_stream_url="rtsp://admin:secret@cam-17.example.invalid/live",
        )
    with pytest.raises(ValueError, match="scheme"):
        check_stream_url("javascript:alert(1)")
    assert (
        check_stream_url("rtsp://cam-17.example.invalid:554/live")
        == "rtsp://cam-17.example.invalid:554/live"
    )


def test_a_typed_url_is_split_into_a_clean_url_and_credentials():
    clean, user, password = split_credentials("rtsp://viewer:p%25w%40d%21%3Ax@[fe80::1]:8554/a?b=1")
    assert clean == "rtsp://[fe80::1]:8554/a?b=1"
    assert (user, password) == ("viewer", PASSWORD)  # decoded, as the keyring keeps it
    assert user is not None and password is not None
    assert url_with_credentials(clean, user, password) == (
        "rtsp://viewer:p%25w%40d%21%3Ax@[fe80::1]:8554/a?b=1"
    )
    assert split_credentials("rtsp://cam/live") == ("rtsp://cam/live", None, None)


def test_joined_urls_encode_every_special_character_and_redact_back():
    joined = url_with_credentials("rtsp://cam-17.example.invalid:554/live", "viewer", PASSWORD)
    assert joined == "rtsp://viewer:p%25w%40d%21%3Ax@cam-17.example.invalid:554/live"
    message = f"could not open {joined}: 401 Unauthorized"
    redacted = redact_url(message)
    assert redacted == "could not open rtsp://***@cam-17.example.invalid:554/live: 401 Unauthorized"
    assert "p%25w" not in redacted and PASSWORD not in redacted


def test_redaction_covers_unencoded_passwords_typed_by_hand():
    assert redact_url("rtsp://admin:p@ss:w0rd@cam.local/live") == "rtsp://***@cam.local/live"
    assert redact_url("no url here, mail ops@example.org") == "no url here, mail ops@example.org"


def test_named_secrets_are_kept_apart_from_camera_credentials(settings: Settings):
    store = CredentialStore.for_settings(settings)
    store.set("smtp", CameraCredentials("viewer", PASSWORD))
    store.set_secret("smtp", "mail password")
    assert store.get_secret("smtp") == "mail password"
    assert store.get("smtp") == CameraCredentials("viewer", PASSWORD)
    assert store.get_secret("cam-1") is None
    store.delete_secret("smtp")
    store.delete_secret("smtp")
    assert store.get_secret("smtp") is None
    assert store.get("smtp") == CameraCredentials("viewer", PASSWORD)


def test_the_keyring_refusal_of_a_secret_names_it_without_the_value():
    store = CredentialStore(FailingKeyring(), insecure=False)  # type: ignore[no-untyped-call]
    with pytest.raises(CredentialStoreError, match="refused to store the secret smtp:u@h") as error:
        store.set_secret("smtp:u@h", "mail password")
    assert "mail password" not in str(error.value)
    with pytest.raises(CredentialStoreError, match="could not be read for the secret smtp:u@h"):
        store.get_secret("smtp:u@h")
