"""Fixtures for running ``beacon`` subcommands in-process against a temporary data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings


@pytest.fixture
def config_file(settings: Settings, tmp_path: Path) -> Path:
    """The settings file the ``settings`` fixture wrote (file keyring, test workstation)."""
    path = tmp_path / "settings.toml"
    assert path.is_file(), "the settings fixture no longer writes tmp_path/settings.toml"
    return path


@pytest.fixture
def data_options(settings: Settings, config_file: Path) -> list[str]:
    """``--data-dir`` and ``--config`` for a command line, pointing at this test's files."""
    return ["--data-dir", str(settings.data_dir), "--config", str(config_file)]
