"""The first-run wizard, driven as IT would drive it: the demo path building the demo city, the
server path against the real sync server on loopback (the token in the keyring, never in the
file), a failing check with its way out, and Cancel writing nothing."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWizard

from app.models.user import Role, User
from app.services.credentials import CredentialStore
from app.services.demo_city import SCRIPT_NAME
from app.services.first_run import CheckStep, FirstRunPlan, StepState
from app.services.sqlite_store import REGISTRY, open_database
from app.services.sync_link import sync_token_name
from app.settings import load_settings
from app.shell import configure_application
from app.widgets.background_jobs import BackgroundJobs
from app.widgets.first_run_wizard import MARKS, FirstRunWizard, Page
from tests.factories import registry_sessions
from tests.sync_server import ProcessServer, ServerCertificate, ServerDatabase, ThreadServer
from tests.widgets.test_help import controls_without_tooltip

WORKSTATION = "rtcc-ws-03"
LAPTOP = (1366, 768)


@pytest.fixture
def plan(tmp_path: Path) -> FirstRunPlan:
    # A machine with no OS keyring: the administrator opted in to the file keyring for this run.
    base = load_settings(None, tmp_path / "data", env={"BEACON_SECURITY__KEYRING_BACKEND": "file"})
    return FirstRunPlan(base, tmp_path / "config" / "settings.toml", "os:it", False)


@pytest.fixture
def wizard(qtbot, qapp, plan: FirstRunPlan) -> Iterator[FirstRunWizard]:
    configure_application(qapp)
    jobs = BackgroundJobs()
    shown = FirstRunWizard(plan, jobs)
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    jobs.shutdown()


def click(qtbot, wizard: FirstRunWizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isVisible() and button.isEnabled(), f"{button.text()} cannot be pressed"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def fill_server_page(qtbot, wizard: FirstRunWizard, url: str, token: str) -> None:
    page = wizard.server_page
    page.address_edit.clear()
    qtbot.keyClicks(page.address_edit, url)
    page.workstation_edit.clear()
    qtbot.keyClicks(page.workstation_edit, WORKSTATION)
    qtbot.keyClicks(page.token_edit, token)


def test_the_demo_path_builds_the_demo_city_and_writes_its_settings(
    qtbot, wizard: FirstRunWizard, plan: FirstRunPlan
):
    assert wizard.currentId() == Page.WELCOME
    qtbot.mouseClick(wizard.welcome_page.demo_choice, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == Page.DONE  # the choice goes on at once
    assert "demo city" in wizard.done_page.summary.text()
    assert not plan.config_path.exists()
    click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    assert "Building the demo city" in wizard.done_page.progress.text()
    assert not wizard.button(QWizard.WizardButton.CancelButton).isEnabled()
    assert not wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    qtbot.waitUntil(lambda: wizard.result() == QDialog.DialogCode.Accepted, timeout=180_000)

    settings = load_settings(plan.config_path, env={})
    assert settings.data_dir == plan.base.data_dir.resolve()
    assert settings.security.keyring_backend == "file"
    assert (settings.data_dir / SCRIPT_NAME).is_file()
    with registry_sessions(settings)() as session:
        assert session.query(User).filter_by(username="operator").one().role is Role.OPERATOR


def test_the_server_path_ends_with_the_token_in_the_keyring_and_not_in_the_file(
    qtbot,
    wizard: FirstRunWizard,
    plan: FirstRunPlan,
    live_server: ThreadServer,
    server_db: ServerDatabase,
):
    token = server_db.register(WORKSTATION)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == Page.SERVER
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # nothing typed yet
    fill_server_page(qtbot, wizard, live_server.url, token)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == Page.CHECK
    check = wizard.check_page
    qtbot.waitUntil(check.isComplete, timeout=30_000)
    assert check.outcome is not None
    for step, label in check.step_labels.items():
        expected = MARKS[check.outcome.report.results[list(CheckStep).index(step)].state]
        assert label.text().startswith(expected), label.text()
    assert check.step_labels[CheckStep.TOKEN].text().startswith("✓")
    assert token not in " ".join(label.text() for label in check.step_labels.values())

    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == Page.ADMIN  # a fresh workstation has no accounts
    admin = wizard.admin_page
    qtbot.keyClicks(admin.username_edit, "it.admin")
    qtbot.keyClicks(admin.password_edit, "first-admin-pass")
    qtbot.keyClicks(admin.repeat_edit, "first-admin-typo")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == Page.ADMIN
    assert "differ" in admin.problem.text()
    admin.repeat_edit.clear()
    qtbot.keyClicks(admin.repeat_edit, "first-admin-pass")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == Page.DONE
    summary = wizard.done_page.summary.text()
    assert "keyring" in summary and "it.admin" in summary and token not in summary
    click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    qtbot.waitUntil(lambda: wizard.result() == QDialog.DialogCode.Accepted, timeout=30_000)

    text = plan.config_path.read_text(encoding="utf-8")
    assert token not in text
    assert tomllib.loads(text)["sync"] == {"server_url": live_server.url}
    settings = load_settings(plan.config_path, env={})
    assert settings.workstation == WORKSTATION
    stored = CredentialStore.for_settings(settings).get_secret(sync_token_name(settings))
    assert stored == token
    with registry_sessions(settings)() as session:
        assert session.query(User).filter_by(username="it.admin").one().role is Role.ADMIN


def test_a_refused_token_says_what_to_do_and_the_demo_is_a_way_out(
    qtbot,
    wizard: FirstRunWizard,
    plan: FirstRunPlan,
    live_server: ThreadServer,
    server_db: ServerDatabase,
):
    server_db.register(WORKSTATION)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    fill_server_page(qtbot, wizard, live_server.url, "bcn_not-the-token")
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    check = wizard.check_page
    qtbot.waitUntil(lambda: check.outcome is not None, timeout=30_000)
    assert check.step_labels[CheckStep.TOKEN].text().startswith("✗")
    assert check.step_labels[CheckStep.WORKSTATION].text().startswith(MARKS[StepState.NOT_RUN])
    assert "refused the token" in check.failure.text()
    assert "new token" in check.advice.text()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert check.ca_button.isHidden()
    assert wizard.button(QWizard.WizardButton.BackButton).hasFocus()  # Enter goes to the token

    # Back to the token, corrected, checked again.
    click(qtbot, wizard, QWizard.WizardButton.BackButton)
    assert wizard.currentId() == Page.SERVER
    assert wizard.server_page.token_edit.hasFocus()  # the field to correct
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(lambda: check.outcome is not None, timeout=30_000)
    qtbot.mouseClick(check.demo_button, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == Page.DONE
    assert "demo city" in wizard.done_page.summary.text()
    assert not plan.config_path.exists()


def test_cancel_writes_nothing(
    qtbot, wizard: FirstRunWizard, plan: FirstRunPlan, live_server: ThreadServer, server_db
):
    token = server_db.register(WORKSTATION)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    fill_server_page(qtbot, wizard, live_server.url, token)
    click(qtbot, wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(wizard.check_page.isComplete, timeout=30_000)
    click(qtbot, wizard, QWizard.WizardButton.CancelButton)
    assert wizard.result() == QDialog.DialogCode.Rejected
    assert not plan.config_path.parent.exists()
    assert not plan.base.data_dir.exists()  # no registry, audit log or keyring file


def test_every_page_has_a_tooltip_on_every_control_and_fits_a_laptop(qtbot, wizard):
    assert controls_without_tooltip(wizard) == []
    hint = wizard.sizeHint().expandedTo(wizard.minimumSizeHint())
    assert hint.width() <= LAPTOP[0] and hint.height() <= LAPTOP[1] - 40, hint
    assert wizard.width() <= LAPTOP[0] and wizard.height() <= LAPTOP[1] - 40


def test_an_untrusted_certificate_offers_the_agencys_ca_file_and_checks_again(
    qtbot, wizard: FirstRunWizard, server_db: ServerDatabase, tmp_path: Path
):
    token = server_db.register(WORKSTATION)
    certificate = ServerCertificate.make(tmp_path)
    server = ProcessServer(server_db.url, tls=certificate).start()
    try:
        click(qtbot, wizard, QWizard.WizardButton.NextButton)
        fill_server_page(qtbot, wizard, server.url, token)
        click(qtbot, wizard, QWizard.WizardButton.NextButton)
        check = wizard.check_page
        qtbot.waitUntil(lambda: check.outcome is not None, timeout=30_000)
        assert check.step_labels[CheckStep.CERTIFICATE].text().startswith("✗")
        assert check.ca_button.isVisible() and check.ca_button.hasFocus()
        assert "CA certificate file" in check.advice.text()

        # What "Choose the agency's CA file…" does once the file is chosen in its dialog.
        wizard.server_page.ca_edit.setText(str(certificate.ca_file))
        qtbot.mouseClick(check.check_again_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(check.isComplete, timeout=30_000)
        assert check.step_labels[CheckStep.CERTIFICATE].text().startswith("✓")
        assert "Beacon test CA" in check.step_labels[CheckStep.CERTIFICATE].text()
    finally:
        server.stop()


def test_the_server_path_works_from_the_keyboard(
    qtbot, wizard: FirstRunWizard, live_server: ThreadServer, server_db: ServerDatabase
):
    token = server_db.register(WORKSTATION)
    with qtbot.waitActive(wizard):
        wizard.activateWindow()
    qtbot.keyClick(wizard.focusWidget(), Qt.Key.Key_Return)  # "Connect to your agency's…"
    assert wizard.currentId() == Page.SERVER
    page = wizard.server_page
    assert page.address_edit.hasFocus()  # the first empty field
    qtbot.keyClicks(page.address_edit, live_server.url)
    qtbot.keyClick(page.address_edit, Qt.Key.Key_Tab)
    assert page.workstation_edit.hasFocus()
    qtbot.keyClick(page.workstation_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(page.workstation_edit, WORKSTATION)
    qtbot.keyClick(page.workstation_edit, Qt.Key.Key_Tab)
    qtbot.keyClicks(page.token_edit, token)
    qtbot.keyClick(page.token_edit, Qt.Key.Key_Return)
    assert wizard.currentId() == Page.CHECK
    qtbot.waitUntil(wizard.check_page.isComplete, timeout=30_000)
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert next_button.hasFocus()
    qtbot.keyClick(next_button, Qt.Key.Key_Return)
    assert wizard.currentId() == Page.ADMIN


def test_a_finish_that_cannot_be_done_says_why_and_leaves_the_way_back(
    qtbot, wizard: FirstRunWizard, plan: FirstRunPlan
):
    plan.base.data_dir.mkdir(parents=True)
    open_database(plan.base.data_dir / "beacon.sqlite", REGISTRY).dispose()  # real data there
    qtbot.mouseClick(wizard.welcome_page.demo_choice, Qt.MouseButton.LeftButton)
    click(qtbot, wizard, QWizard.WizardButton.FinishButton)
    qtbot.waitUntil(lambda: wizard.done_page.problem.text() != "", timeout=30_000)
    assert "not the demo city" in wizard.done_page.problem.text()
    assert wizard.currentId() == Page.DONE and wizard.result() != QDialog.DialogCode.Accepted
    assert wizard.button(QWizard.WizardButton.CancelButton).isEnabled()
    assert wizard.button(QWizard.WizardButton.BackButton).isEnabled()
    assert not plan.config_path.exists()
