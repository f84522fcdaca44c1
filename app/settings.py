"""The one typed settings object: a TOML file, environment overrides, command-line paths.

Lookup order (later wins): defaults, the TOML file (``--config PATH`` or ``settings.toml`` in the
platform config dir), environment variables ``BEACON_<SECTION>__<KEY>`` (for example
``BEACON_SECURITY__INACTIVITY_LOCK_MINUTES=10``), then ``--data-dir``. Unknown keys are errors
that name the key, so a typo never becomes a silent default.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

APP_NAME = "beacon"
ENV_PREFIX = "BEACON_"
# The sync server's own variables (``beacon server``, server/cli.py), not the console's settings.
SERVER_ENV_PREFIX = "BEACON_SERVER_"


class SettingsError(Exception):
    """A settings file or override that cannot be used; the message says which key and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecuritySettings(_Section):
    inactivity_lock_minutes: float = Field(default=30, gt=0, le=24 * 60)
    reauth_hours: float = Field(default=12, gt=0, le=24 * 7)
    # "system" is the OS keyring; "file" keeps secrets in a file under the data dir and is
    # only for tests and demo machines, and the console says so in its status bar.
    keyring_backend: Literal["system", "file"] = "system"


class PolicySettings(_Section):
    lease_check_interval_s: float = Field(default=1.0, gt=0, le=5)


class MapSettings(_Section):
    default_radius_m: float = Field(default=300, gt=0, le=50_000)


class BasemapSettings(_Section):
    """What the camera map draws under the cameras: an offline MBTiles file, else XYZ raster
    tiles from ``url_template``, else (the demo, and nothing configured) the bundled street
    layer. Tile servers want a User-Agent that names the program and whom to contact."""

    url_template: str | None = None  # e.g. "https://tiles.example.org/{z}/{x}/{y}.png"
    attribution: str = ""  # shown on the map; required with url_template
    contact: str = ""  # added to the User-Agent: an e-mail address or web page of the agency
    cache_mb: int = Field(default=256, ge=1, le=100_000)  # disk cache of fetched tiles
    cache_dir: Path | None = None  # default: "tile-cache" in the data directory
    max_zoom: int = Field(default=19, ge=0, le=22)
    timeout_s: float = Field(default=10, gt=0, le=120)
    mbtiles: Path | None = None  # an offline raster MBTiles file; wins over url_template

    @field_validator("url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("the tile URL must start with https:// or http://")
        missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
        if missing:
            raise ValueError(f"the tile URL needs {', '.join(missing)} (XYZ tiles)")
        return value

    @model_validator(mode="after")
    def _attributed(self) -> BasemapSettings:
        if self.url_template and not self.attribution.strip():
            raise ValueError(
                "attribution is required with url_template: tile providers' terms ask for it "
                '(for example "© OpenStreetMap contributors")'
            )
        return self


class DisplaySettings(_Section):
    # Black surfaces, pure white text, yellow focus outlines (app/widgets/theme.py); the View
    # menu switches it for the running session too (Ctrl+Alt+H).
    high_contrast: bool = False


class WallSettings(_Section):
    tour_interval_s: float = Field(default=10, ge=1, le=3600)  # each camera's time on a tour


class EvidenceSettings(_Section):
    # Where snapshots and clips are saved; default: "exports" in the data directory.
    export_dir: Path | None = None
    # How much of each open feed is kept for a clip export (JPEG frames in its decode process).
    clip_seconds: int = Field(default=30, ge=5, le=300)


class CadSettings(_Section):
    """Where calls for service come from (README, "CAD record formats"). "scripted" plays the
    demo city's ``cad_script.json`` from the data directory; "http" polls ``url``; "folder"
    reads one record per file dropped into ``folder``; "eido" takes NENA EIDOs from ``url`` or
    ``folder``."""

    adapter: Literal["scripted", "http", "folder", "eido"] = "scripted"
    url: str | None = None  # http, eido: GET answers the records
    folder: Path | None = None  # folder, eido: one record per file
    interval_s: float = Field(default=5, ge=0.5, le=300)  # between polls of url or folder
    connect_timeout_s: float = Field(default=3, gt=0, le=60)
    read_timeout_s: float = Field(default=10, gt=0, le=120)  # the whole answer, not per packet
    max_body_mb: float = Field(default=8, gt=0, le=256)  # a larger answer is refused
    settle_s: float = Field(default=2, ge=0, le=60)  # a file unchanged this long is complete
    sound: bool = False  # a short alert sound when a new incident arrives

    @field_validator("url")
    @classmethod
    def _plain_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("the CAD URL must start with https:// or http://")
        if "@" in value.split("//", 1)[1].split("/", 1)[0]:
            raise ValueError("the CAD URL must not hold a user name or password")
        return value

    @model_validator(mode="after")
    def _source_set(self) -> CadSettings:
        if self.adapter == "http" and self.url is None:
            raise ValueError('adapter "http" needs url')
        if self.adapter == "folder" and self.folder is None:
            raise ValueError('adapter "folder" needs folder')
        if self.adapter == "eido" and (self.url is None) == (self.folder is None):
            raise ValueError('adapter "eido" needs either url or folder (one of them)')
        return self


def _plain_address(value: str | None) -> str | None:
    """A bare e-mail address (``name@domain``): no display name, spaces or line breaks."""
    if value is None:
        return None
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() or c in "<>,;" for c in value):
        raise ValueError(f"{value!r} is not a plain e-mail address such as rtcc@city.example")
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpSettings(_Section):
    """The mail server that footage requests go out through; nothing set: they cannot be
    e-mailed, and the console says so. The password is never here: it is kept in the keyring
    under the user name and host (``app.services.smtp_mailer.smtp_password_name``)."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65_535)
    # "starttls" upgrades a plain connection (usually port 587), "ssl" is TLS from the first
    # byte (usually 465); "none" sends in the clear and takes no user name off this machine.
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    from_address: str | None = None  # the agency's sending address
    reply_to: str | None = None  # where owners' answers go; default: from_address
    agency_name: str = ""  # who the owner is asked by: "Harbor City Police RTCC"
    timeout_s: float = Field(default=30, gt=0, le=300)  # each wait for the server

    @field_validator("from_address", "reply_to")
    @classmethod
    def _addresses(cls, value: str | None) -> str | None:
        return _plain_address(value)

    @model_validator(mode="after")
    def _usable(self) -> SmtpSettings:
        if self.host is None:
            return self
        if self.from_address is None:
            raise ValueError("from_address is required with host: the agency's sending address")
        if not self.agency_name.strip():
            raise ValueError("agency_name is required with host: owners must see who asks")
        if self.security == "none" and self.username is not None and not _is_loopback(self.host):
            raise ValueError(
                'security = "none" would send the SMTP password in the clear to '
                f'{self.host}; use "starttls" or "ssl" (a user name with "none" is allowed '
                "only for a relay on this machine)"
            )
        return self


class FootageSettings(_Section):
    """Footage requests to camera owners (``app.services.footage_requests``)."""

    expire_after_days: int = Field(default=7, ge=1, le=365)  # a sent request with no answer
    max_window_hours: float = Field(default=24, gt=0, le=24 * 31)  # the longest time window
    # What the owner is asked to do; the e-mail template's $reply_instructions.
    reply_instructions: str = (
        "Please reply to this e-mail with the video attached or a link to download it, or "
        "tell us if you cannot provide it. Keep the reference in the subject line."
    )
    # $reply_instructions instead, when each camera's line carries an upload link (a sync
    # server is configured: it receives the video into its evidence vault).
    upload_instructions: str = (
        "Please use the link under each camera to send the video from your phone or computer "
        "(no account needed), or to tell us you cannot provide it. Each link works once, "
        "until the request expires; you can also reply to this e-mail."
    )
    # The e-mail's wording; default: resources/footage_request_email.txt.
    email_template: Path | None = None


# The sync server's workstation ids (server/schemas.py WORKSTATION_ID): a URL path segment.
SYNC_WORKSTATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SyncSettings(_Section):
    """Where the audit log is sent (``app.services.audit_sync``) and where registry and policy
    changes come from (``app.services.registry_sync``); no server_url: the audit log is kept on
    this workstation only, the registry changes only by import, and the status bar says "sync
    not configured". The workstation's token is never here: ``beacon sync token`` puts it in
    the keyring."""

    server_url: str | None = None  # e.g. "https://audit.city.example:8470"
    workstation_id: str | None = None  # the id the server knows; default: workstation
    # events per upload; the server's default limit, where a batch costs least per event
    batch_size: int = Field(default=5000, ge=1, le=5000)
    interval_s: float = Field(default=5, ge=0.1, le=3600)  # between looks for new events
    # Between asks for registry changes: a revocation on the server ends open feeds within
    # about this long (plus one answer), so it stays well under the 10 s that owners are promised.
    registry_poll_s: float = Field(default=2.0, ge=0.1, le=3600)
    connect_timeout_s: float = Field(default=5, gt=0, le=120)
    read_timeout_s: float = Field(default=30, gt=0, le=600)  # each answer of the server
    retry_initial_s: float = Field(default=2, gt=0, le=600)  # first wait after a failure
    retry_max_s: float = Field(default=300, gt=0, le=3600)  # the longest wait (with jitter)
    ca_file: Path | None = None  # PEM certificates to trust for https; default: the system's
    # Send the token over plain http to another machine: only on a network that is itself
    # encrypted (a VPN), and never the default.
    allow_plain_http: bool = False

    @field_validator("server_url")
    @classmethod
    def _server_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("the sync server URL must start with https:// or http://")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "the sync server URL must not hold a user name or password; the token goes "
                "into the keyring (beacon sync token)"
            )
        if parts.query or parts.fragment:
            raise ValueError("the sync server URL must not have a query or fragment")
        return value

    @field_validator("workstation_id")
    @classmethod
    def _workstation_id(cls, value: str | None) -> str | None:
        if value is not None and not SYNC_WORKSTATION_ID.match(value):
            raise ValueError(
                "a sync workstation id is 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _token_not_in_the_clear(self) -> SyncSettings:
        parts = urlsplit(self.server_url or "")
        host = parts.hostname or ""
        if parts.scheme == "http" and not _is_loopback(host) and not self.allow_plain_http:
            raise ValueError(
                f"http:// would send the workstation's token in the clear to {host}; use "
                "https:// (plain http is allowed for a server on this machine, or to another "
                "one only with allow_plain_http = true under [sync], on an encrypted network)"
            )
        return self

    @model_validator(mode="after")
    def _retries(self) -> SyncSettings:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError("retry_initial_s must not be longer than retry_max_s")
        return self


class Settings(_Section):
    workstation: str = Field(default_factory=socket.gethostname, min_length=1)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    security: SecuritySettings = SecuritySettings()
    policy: PolicySettings = PolicySettings()
    map: MapSettings = MapSettings()
    basemap: BasemapSettings = BasemapSettings()
    wall: WallSettings = WallSettings()
    display: DisplaySettings = DisplaySettings()
    evidence: EvidenceSettings = EvidenceSettings()
    cad: CadSettings = CadSettings()
    smtp: SmtpSettings = SmtpSettings()
    footage: FootageSettings = FootageSettings()
    sync: SyncSettings = SyncSettings()

    @field_validator("sync")
    @classmethod
    def _sync_workstation(cls, sync: SyncSettings, info: ValidationInfo) -> SyncSettings:
        workstation = info.data.get("workstation")
        if sync.server_url is None or sync.workstation_id is not None or workstation is None:
            return sync
        if not SYNC_WORKSTATION_ID.match(workstation):
            raise ValueError(
                f"the workstation name {workstation!r} cannot be a sync workstation id "
                "(1-64 letters, digits, '.', '_' or '-'); set workstation_id under [sync]"
            )
        return sync

    @property
    def sync_workstation_id(self) -> str:
        """The id the sync server knows this workstation by."""
        return self.sync.workstation_id or self.workstation

    @property
    def registry_db(self) -> Path:
        return self.data_dir / "beacon.sqlite"

    @property
    def audit_db(self) -> Path:
        return self.data_dir / "audit.sqlite"

    @property
    def exports_dir(self) -> Path:
        return self.evidence.export_dir or self.data_dir / "exports"

    @property
    def keyring_dir(self) -> Path:
        return self.data_dir / "keyring"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(SERVER_ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid settings"]
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown setting (check the spelling)")
        else:
            lines.append(f"  {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def load_settings(
    config_path: Path | None = None,
    data_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load settings; ``config_path`` None means the default file, used only if it exists."""
    env = os.environ if env is None else env
    explicit = config_path is not None
    path = config_path if config_path is not None else default_config_path()
    values: dict[str, Any] = {}
    if explicit and not path.is_file():
        raise SettingsError(f"{path}: settings file not found")
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    values = _merge(values, _env_overrides(env))
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, str(path) if path.is_file() else "settings")) from exc
