from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.cli import main
from app.services.credentials import CredentialStore
from app.services.smtp_mailer import smtp_password_name
from app.settings import Settings, load_settings

SMTP = """
[smtp]
host = "mail.city.example"
username = "rtcc-requests"
from_address = "rtcc@city.example"
agency_name = "Harbor City Police RTCC"
"""


def run(options: list[str], *args: str) -> int:
    return main(["smtp", *args, *options])


def test_the_password_goes_into_the_keyring_and_nowhere_else(
    settings: Settings, config_file: Path, data_options: list[str], monkeypatch, capsys
):
    config_file.write_text(config_file.read_text() + SMTP)
    monkeypatch.setattr("sys.stdin", io.StringIO("mail-S3cret!\n"))
    assert run(data_options, "password", "--password-stdin") == 0
    out = capsys.readouterr().out
    assert "rtcc-requests at mail.city.example" in out and "mail-S3cret!" not in out
    configured = load_settings(config_file, data_dir=settings.data_dir)
    store = CredentialStore.for_settings(configured)
    assert store.get_secret(smtp_password_name(configured.smtp)) == "mail-S3cret!"
    assert "mail-S3cret!" not in config_file.read_text()


@pytest.mark.parametrize(
    ("extra", "stdin", "message"),
    [
        ("", "pw\n", "set host and username under [smtp]"),
        (SMTP, "\n", "an empty password was not stored"),
    ],
)
def test_refusals_say_what_to_do(
    config_file: Path, data_options: list[str], monkeypatch, capsys, extra, stdin, message
):
    config_file.write_text(config_file.read_text() + extra)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert run(data_options, "password", "--password-stdin") == 2
    assert message in capsys.readouterr().err
