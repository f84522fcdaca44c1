from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings


def test_defaults_with_no_file(tmp_path: Path) -> None:
    settings = load_settings(None, tmp_path, env={})
    assert settings.security.inactivity_lock_minutes == 30
    assert settings.security.reauth_hours == 12
    assert settings.audit_db == tmp_path / "audit.sqlite"


def test_file_then_environment_then_data_dir(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text('workstation = "rtcc-3"\n[security]\ninactivity_lock_minutes = 10\n')
    env = {"BEACON_SECURITY__INACTIVITY_LOCK_MINUTES": "5", "PATH": "/bin"}
    settings = load_settings(config, tmp_path / "d", env=env)
    assert settings.workstation == "rtcc-3"
    assert settings.security.inactivity_lock_minutes == 5
    assert settings.data_dir == tmp_path / "d"


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text('[security]\ninactivity_lock_minutes = "soon"\n')
    with pytest.raises(SettingsError, match=r"security\.inactivity_lock_minutes"):
        load_settings(config, tmp_path, env={})


def test_unknown_key_is_an_error_not_a_default(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[security]\ninactivity_lock_minuts = 5\n")
    with pytest.raises(SettingsError, match=r"inactivity_lock_minuts: unknown setting"):
        load_settings(config, tmp_path, env={})


def test_unknown_environment_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings(None, tmp_path, env={"BEACON_SECURTY__X": "1"})


def test_the_sync_servers_own_variables_are_not_console_settings(tmp_path: Path) -> None:
    env = {
        "BEACON_SERVER_DB_URL": "postgresql://audit@db.invalid/beacon",
        "BEACON_SERVER_CHECKPOINT_KEY": "/etc/beacon/checkpoint.pem",
        "BEACON_WORKSTATION": "ws-7",
    }
    assert load_settings(None, tmp_path, env=env).workstation == "ws-7"


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("[security\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(config, tmp_path, env={})
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.toml", tmp_path, env={})


def test_the_readme_settings_example_is_valid(tmp_path):
    """The documented example must load: every key in it exists, with a value of the right type."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "settings.toml"
    config.write_text(example, encoding="utf-8")
    settings = load_settings(config, env={})
    assert settings.workstation == "rtcc-ws-03"
    assert settings.wall.tour_interval_s == 10


def test_cad_defaults_to_the_demo_script_without_sound(tmp_path: Path) -> None:
    cad = load_settings(None, tmp_path, env={}).cad
    assert (cad.adapter, cad.url, cad.folder, cad.sound) == ("scripted", None, None, False)


def test_cad_adapter_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text('[cad]\nadapter = "http"\nurl = "https://cad.example.org/records"\n')
    env = {"BEACON_CAD__INTERVAL_S": "15", "BEACON_CAD__SOUND": "true"}
    cad = load_settings(config, tmp_path, env=env).cad
    assert (cad.adapter, cad.interval_s, cad.sound) == ("http", 15, True)


@pytest.mark.parametrize(
    ("cad", "message"),
    [
        ('adapter = "http"', 'adapter "http" needs url'),
        ('adapter = "folder"', 'adapter "folder" needs folder'),
        ('adapter = "eido"', 'adapter "eido" needs either url or folder'),
        ('adapter = "eido"\nurl = "http://cad/e"\nfolder = "/srv/eido"', "either url or folder"),
        ('adapter = "telnet"', r"cad\.adapter"),
        ('adapter = "http"\nurl = "ftp://cad/records"', "must start with https:// or http://"),
        ('adapter = "http"\nurl = "https://user:pw@cad/records"', "must not hold a user name"),
        ("interval_s = 0", r"cad\.interval_s"),
    ],
)
def test_a_cad_source_that_cannot_work_is_refused(tmp_path: Path, cad: str, message: str) -> None:
    config = tmp_path / "s.toml"
    config.write_text(f"[cad]\n{cad}\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, tmp_path, env={})


def test_the_readme_cad_examples_are_valid(tmp_path: Path) -> None:
    """Every [cad] example of "CAD record formats" loads."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## CAD record formats", 1)[1].split("\n## ", 1)[0]
    examples = [part.split("```", 1)[0] for part in section.split("```toml\n")[1:]]
    assert len(examples) >= 3
    for example in examples:
        config = tmp_path / "settings.toml"
        config.write_text(example, encoding="utf-8")
        assert load_settings(config, tmp_path, env={}).cad.adapter != "scripted"


def test_mail_and_footage_defaults(tmp_path: Path) -> None:
    settings = load_settings(None, tmp_path, env={})
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        None,
        587,
        "starttls",
    )
    assert (settings.footage.expire_after_days, settings.footage.max_window_hours) == (7, 24)
    assert settings.footage.email_template is None


def test_a_mail_server_from_file_and_environment(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        '[smtp]\nhost = "smtp.city.example"\nusername = "rtcc-mailer"\n'
        'from_address = "rtcc@city.example"\nagency_name = "Harbor City Police RTCC"\n'
        "[footage]\nexpire_after_days = 14\n"
    )
    env = {"BEACON_SMTP__PORT": "465", "BEACON_SMTP__SECURITY": "ssl"}
    settings = load_settings(config, tmp_path, env=env)
    assert (settings.smtp.port, settings.smtp.security, settings.smtp.username) == (
        465,
        "ssl",
        "rtcc-mailer",
    )
    assert settings.smtp.reply_to is None and settings.footage.expire_after_days == 14


SMTP_BASE = 'host = "smtp.city.example"\nfrom_address = "rtcc@city.example"\nagency_name = "RTCC"\n'


@pytest.mark.parametrize(
    ("smtp", "message"),
    [
        ('host = "smtp.city.example"\nagency_name = "RTCC"', "from_address is required"),
        ('host = "smtp.city.example"\nfrom_address = "rtcc@city.example"', "agency_name is"),
        (SMTP_BASE + 'security = "none"\nusername = "u"', "password in the clear"),
        (SMTP_BASE + 'security = "tls"', r"smtp\.security"),
        ('from_address = "RTCC <rtcc@city.example>"', "not a plain e-mail address"),
        ('reply_to = "desk@city.example\\nBcc: x@y.example"', "not a plain e-mail address"),
        ("port = 0", r"smtp\.port"),
        ("passwort = 1", r"smtp\.passwort: unknown setting"),
    ],
)
def test_a_mail_server_that_cannot_work_is_refused(tmp_path: Path, smtp: str, message: str) -> None:
    config = tmp_path / "s.toml"
    config.write_text(f"[smtp]\n{smtp}\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, tmp_path, env={})


def test_a_relay_on_this_machine_may_take_a_login_in_plain_text(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    for host in ("127.0.0.1", "localhost", "::1"):
        config.write_text(
            f'[smtp]\nhost = "{host}"\nsecurity = "none"\nusername = "u"\n'
            'from_address = "rtcc@city.example"\nagency_name = "RTCC"\n'
        )
        assert load_settings(config, tmp_path, env={}).smtp.host == host


@pytest.mark.parametrize(
    ("footage", "message"),
    [
        ("expire_after_days = 0", r"footage\.expire_after_days"),
        ("max_window_hours = 0", r"footage\.max_window_hours"),
        ("expire_after = 7", r"footage\.expire_after: unknown setting"),
    ],
)
def test_footage_settings_are_checked(tmp_path: Path, footage: str, message: str) -> None:
    config = tmp_path / "s.toml"
    config.write_text(f"[footage]\n{footage}\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, tmp_path, env={})
