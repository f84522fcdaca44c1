"""The one typed settings object: a TOML file, environment overrides, command-line paths.

Lookup order (later wins): defaults, the TOML file (``--config PATH`` or ``settings.toml`` in the
platform config dir), environment variables ``BEACON_<SECTION>__<KEY>`` (for example
``BEACON_SECURITY__INACTIVITY_LOCK_MINUTES=10``), then ``--data-dir``. Unknown keys are errors
that name the key, so a typo never becomes a silent default.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

APP_NAME = "beacon"
ENV_PREFIX = "BEACON_"


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


class WallSettings(_Section):
    tour_interval_s: float = Field(default=10, ge=1, le=3600)  # each camera's time on a tour


class EvidenceSettings(_Section):
    # Where snapshots and clips are saved; default: "exports" in the data directory.
    export_dir: Path | None = None


class Settings(_Section):
    workstation: str = Field(default_factory=socket.gethostname, min_length=1)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    security: SecuritySettings = SecuritySettings()
    policy: PolicySettings = PolicySettings()
    map: MapSettings = MapSettings()
    wall: WallSettings = WallSettings()
    evidence: EvidenceSettings = EvidenceSettings()

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
        if not name.startswith(ENV_PREFIX):
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
