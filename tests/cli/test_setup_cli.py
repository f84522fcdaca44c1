"""``beacon`` with no settings opens the first-run wizard before the sign-in, ``beacon setup``
opens it on purpose, and a cancelled wizard writes nothing and says so on stderr. The platform
config and data folders are temporary ones (XDG variables), never the developer's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWizard

from app.cli.main import main
from app.settings import default_config_path, load_settings
from app.widgets.first_run_wizard import FirstRunWizard, Page
from app.widgets.login_dialog import LoginDialog


@pytest.fixture
def platform_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert default_config_path() == tmp_path / "config" / "beacon" / "settings.toml"
    return tmp_path


def visible(kind: type) -> list[Any]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


class Operator:
    """Acts on what is on screen while ``beacon`` runs (it blocks in the wizard's or the
    console's event loop): each step runs once its condition holds, polled by a timer."""

    def __init__(self, steps: list[tuple[Callable[[], bool], Callable[[], None]]]) -> None:
        self.steps = steps
        self.seen: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        if self.steps and self.steps[0][0]():
            _, act = self.steps.pop(0)
            act()


@pytest.mark.parametrize("command", [[], ["setup"]], ids=["beacon", "beacon setup"])
def test_the_wizard_opens_and_cancel_writes_nothing(
    qtbot, platform_dirs: Path, capsys: pytest.CaptureFixture[str], command: list[str]
):
    def cancel() -> None:
        (wizard,) = visible(FirstRunWizard)
        assert wizard.currentId() == Page.WELCOME
        wizard.reject()

    operator = Operator([(lambda: bool(visible(FirstRunWizard)), cancel)])
    assert main(command) == 1
    assert operator.steps == []  # the wizard was on screen
    assert "set-up cancelled: nothing was written" in capsys.readouterr().err
    assert not default_config_path().exists()
    assert list(platform_dirs.joinpath("config").glob("**/*")) == []


def test_the_first_run_goes_on_to_the_sign_in_and_setup_opens_the_wizard_again(
    qtbot, platform_dirs: Path, capsys: pytest.CaptureFixture[str]
):
    def choose_demo() -> None:
        (wizard,) = visible(FirstRunWizard)
        wizard.welcome_page.demo_choice.click()
        assert wizard.currentId() == Page.DONE
        wizard.button(QWizard.WizardButton.FinishButton).click()

    def leave_the_sign_in() -> None:
        assert visible(FirstRunWizard) == []
        (dialog,) = visible(LoginDialog)
        dialog.reject()

    operator = Operator(
        [
            (lambda: bool(visible(FirstRunWizard)), choose_demo),
            (lambda: bool(visible(LoginDialog)), leave_the_sign_in),
        ]
    )
    assert main([]) == 0
    assert operator.steps == []
    settings = load_settings(None, env={})
    assert settings.data_dir == platform_dirs / "share" / "beacon"
    assert settings.registry_db.is_file()

    # `beacon setup` opens the wizard although there are settings, and only sets up.
    operator = Operator([(lambda: bool(visible(FirstRunWizard)), choose_demo)])
    assert main(["setup"]) == 0
    assert operator.steps == []
    assert visible(LoginDialog) == []
    assert f"settings written to {default_config_path()}" in capsys.readouterr().out

    # With a settings file, `beacon` never shows the wizard: the sign-in comes first.
    operator = Operator([(lambda: bool(visible(LoginDialog)), leave_the_sign_in)])
    assert main([]) == 0
    assert operator.steps == []
