"""The first-run wizard: connect this workstation to the agency's Beacon server, or try the demo.

Pages: welcome (server or demo) → server (address, workstation name, token, CA file) →
connection check (each step ticks as it is known, a failure says what happened and what to do)
→ first administrator (only when the workstation has no accounts) → done (what will be
written). Nothing is written before Finish: then the token goes to the keyring, the first
account and the demo city are made, and the settings file is written last, all off the UI thread
(``app.services.first_run`` does the work; this only drives it).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.services.clock import Clock, utc_now
from app.services.first_run import (
    CheckStep,
    ConnectionReport,
    FirstAdmin,
    FirstRunPlan,
    Remedy,
    ServerChoice,
    StepResult,
    StepState,
    admin_problem,
    check_connection,
    finish_with_demo,
    finish_with_server,
    has_local_users,
    keyring_problem,
    server_changes,
    settings_with,
    token_problem,
    workstation_problem,
)
from app.settings import Settings
from app.widgets.background_jobs import BackgroundJobs

log = logging.getLogger(__name__)

MARKS = {
    StepState.PASSED: "✓",
    StepState.FAILED: "✗",
    StepState.SKIPPED: "–",
    StepState.NOT_RUN: "·",
}
CHECKING_MARK = "…"


class Page(enum.IntEnum):
    WELCOME = 0
    SERVER = 1
    CHECK = 2
    ADMIN = 3
    DONE = 4


def _wrapped(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


class WelcomePage(QWizardPage):
    """Two ways in; pressing one goes on at once (Next takes the highlighted one)."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Welcome to Beacon")
        self.setSubTitle("This workstation has no settings yet. How should it start?")
        self.server_choice = QPushButton(
            "&Connect to your agency's Beacon server\n"
            "IT gives you the server's address and this workstation's token"
        )
        self.server_choice.setObjectName("primaryButton")
        self.server_choice.setToolTip(
            "For a workstation of the real-time crime center: the next page asks for the "
            "server's address and this workstation's token"
        )
        self.demo_choice = QPushButton(
            "Try the &demo city (sample cameras and incidents, nothing real)\n"
            "Built on this computer; nothing is sent anywhere"
        )
        self.demo_choice.setToolTip(
            "A made-up city: 500 cameras, sample calls and demo users. Sign in afterwards as "
            "operator / beacon-operator; connect to the agency later with `beacon setup`"
        )
        group = QButtonGroup(self)
        for button in (self.server_choice, self.demo_choice):
            button.setCheckable(True)
            button.setMinimumHeight(64)
            group.addButton(button)
            button.clicked.connect(self._chosen)
        self.server_choice.setChecked(True)
        layout = QVBoxLayout(self)
        layout.setSpacing(16)
        layout.addWidget(self.server_choice)
        layout.addWidget(self.demo_choice)
        layout.addWidget(
            _wrapped(
                "Cancel leaves without writing anything; Beacon asks again at its next start.",
                "mutedText",
            )
        )
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.server_choice.setFocus()

    def _chosen(self) -> None:
        self.wizard().next()

    def nextId(self) -> int:
        return Page.DONE if self.demo_choice.isChecked() else Page.SERVER


class ServerPage(QWizardPage):
    """Address, workstation name, token and CA file; checked for form before the check."""

    def __init__(self, base: Settings) -> None:
        super().__init__()
        self.setTitle("Your agency's Beacon server")
        self.setSubTitle(
            "IT gives you the server's address and this workstation's token "
            "(the server prints it when the workstation is registered)."
        )
        self.address_edit = QLineEdit(base.sync.server_url or "")
        self.address_edit.setObjectName("addressEdit")
        self.address_edit.setPlaceholderText("https://audit.city.example:8470")
        self.address_edit.setToolTip(
            "The Beacon sync server's address, starting with https:// (with its port if IT "
            "gave one)"
        )
        self.workstation_edit = QLineEdit(base.sync_workstation_id)
        self.workstation_edit.setObjectName("workstationEdit")
        self.workstation_edit.setToolTip(
            "This workstation's name: the server knows it by this name, and every audit event "
            "carries it. Letters, digits, '.', '_' and '-'"
        )
        self.token_edit = QLineEdit()
        self.token_edit.setObjectName("tokenEdit")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("paste the token")
        self.token_edit.setToolTip(
            "The workstation's token from IT. It is kept in this computer's keyring, never in "
            "the settings file"
        )
        self.ca_edit = QLineEdit(str(base.sync.ca_file) if base.sync.ca_file else "")
        self.ca_edit.setObjectName("caFileEdit")
        self.ca_edit.setPlaceholderText("optional: only if IT gave you one")
        self.ca_edit.setToolTip(
            "The agency's CA certificate (a .pem or .crt file), if the server's certificate is "
            "signed by the agency itself; leave empty otherwise"
        )
        self.ca_button = QPushButton("C&hoose…")
        self.ca_button.setObjectName("chooseCaButton")
        self.ca_button.setToolTip("Choose the agency's CA certificate file")
        self.ca_button.clicked.connect(self.choose_ca_file)
        self.allow_plain_http = base.sync.allow_plain_http
        self.remedy: Remedy | None = None  # what the last check said to correct
        self.problem = _wrapped("", "errorText")
        self.problem.setAccessibleName("What to correct")

        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_button)
        form = QFormLayout()
        for text, field in (
            ("&Server address", self.address_edit),
            ("&Workstation name", self.workstation_edit),
            ("&Token", self.token_edit),
        ):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        ca_label = QLabel("&CA certificate")
        ca_label.setBuddy(self.ca_edit)
        form.addRow(ca_label, ca_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if self.allow_plain_http:
            layout.addWidget(
                _wrapped(
                    "The administrator allows plain http:// to another machine for this "
                    "program (BEACON_SYNC__ALLOW_PLAIN_HTTP).",
                    "mutedText",
                )
            )
        layout.addWidget(self.problem)
        layout.addStretch(1)
        for edit in (self.address_edit, self.workstation_edit, self.token_edit):
            edit.textChanged.connect(self.completeChanged)
            edit.textChanged.connect(lambda _text: self.problem.clear())

    def initializePage(self) -> None:
        empty = next(
            (
                e
                for e in (self.address_edit, self.workstation_edit, self.token_edit)
                if not e.text()
            ),
            self.address_edit,
        )
        empty.setFocus()

    def choose_ca_file(self) -> bool:
        """Ask for the CA file; whether one was chosen."""
        start = self.ca_edit.text() or str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(
            self,
            "The agency's CA certificate",
            start,
            "Certificates (*.pem *.crt *.cer);;All files (*)",
        )
        if chosen:
            self.ca_edit.setText(chosen)
        return bool(chosen)

    def isComplete(self) -> bool:
        return all(e.text().strip() for e in (self.address_edit, self.workstation_edit)) and bool(
            self.token_edit.text()
        )

    def validatePage(self) -> bool:
        problem = workstation_problem(self.workstation_edit.text().strip()) or token_problem(
            self.token_edit.text().strip()
        )
        if problem is not None:
            self.problem.setText(problem)
            return False
        return True

    def choice(self) -> ServerChoice:
        ca = self.ca_edit.text().strip()
        return ServerChoice(
            self.address_edit.text().strip(),
            self.workstation_edit.text().strip(),
            self.token_edit.text().strip(),
            Path(ca).expanduser() if ca else None,
            self.allow_plain_http,
        )

    def shown_again(self) -> None:
        """Back from the check: the field its failure points to has the focus."""
        field = {
            Remedy.ADDRESS: self.address_edit,
            Remedy.TOKEN: self.token_edit,
            Remedy.WORKSTATION: self.workstation_edit,
            Remedy.CA_FILE: self.ca_edit,
        }.get(self.remedy or Remedy.RETRY, self.address_edit)
        field.setFocus()
        field.selectAll()


class _StepRelay(QObject):
    """Carries each step's result from the check's worker thread to the UI thread."""

    step = Signal(int, object)  # check number, StepResult


@dataclass(frozen=True, slots=True)
class _CheckOutcome:
    """What the check job found: the report, and with it where the token and users stand."""

    report: ConnectionReport
    keyring_problem: str | None  # why the token cannot be kept here
    needs_admin: bool  # the workstation has no accounts yet


def step_text(step: CheckStep, result: StepResult | None) -> str:
    """One line of the step list: its mark, its name, and what was found."""
    if result is None:
        return f"{CHECKING_MARK}  {step.value} (checking)"
    mark = MARKS[result.state]
    if result.state is StepState.FAILED:
        return f"{mark}  {step.value}: failed, see below"
    if result.state is StepState.NOT_RUN:
        return f"{mark}  {step.value} (not checked)"
    return f"{mark}  {step.value}: {result.detail}"


class CheckPage(QWizardPage):
    """Runs the connection check when shown and shows each step as it is known."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Checking the connection")
        self.setSubTitle("Beacon checks each step from the address to the token.")
        self.outcome: _CheckOutcome | None = None
        self.use_demo = False
        self._check_number = 0
        self._relay = _StepRelay(self)
        self._relay.step.connect(self._show_step)
        self.step_labels: dict[CheckStep, QLabel] = {}
        layout = QVBoxLayout(self)
        layout.setSpacing(6)
        for step in CheckStep:
            label = _wrapped("")
            label.setObjectName(f"step{step.name.title()}")
            self.step_labels[step] = label
            layout.addWidget(label)
        self.failure = _wrapped("", "errorText")
        self.failure.setAccessibleName("What went wrong")
        self.advice = _wrapped("")
        self.advice.setObjectName("checkAdvice")
        self.advice.setAccessibleName("What to do")
        layout.addSpacing(6)
        layout.addWidget(self.failure)
        layout.addWidget(self.advice)
        layout.addStretch(1)
        self.check_again_button = QPushButton("Check &again")
        self.check_again_button.setObjectName("checkAgainButton")
        self.check_again_button.setToolTip("Run the connection check again (after IT fixed it)")
        self.check_again_button.clicked.connect(self.start_check)
        self.ca_button = QPushButton("Choose the agency's CA &file…")
        self.ca_button.setObjectName("checkCaButton")
        self.ca_button.setToolTip(
            "Trust the server's certificate through the agency's CA certificate file, and "
            "check again"
        )
        self.ca_button.clicked.connect(self._choose_ca_file)
        self.demo_button = QPushButton("Use the &demo city instead")
        self.demo_button.setObjectName("useDemoButton")
        self.demo_button.setToolTip(
            "Leave the server for now and set this workstation up with the demo city"
        )
        self.demo_button.clicked.connect(self._use_demo)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_again_button)
        buttons.addWidget(self.ca_button)
        buttons.addStretch(1)
        buttons.addWidget(self.demo_button)
        layout.addLayout(buttons)

    def initializePage(self) -> None:
        self.use_demo = False
        self.start_check()

    def cleanupPage(self) -> None:
        self._check_number += 1  # a check still running is no longer shown
        self.outcome = None

    def isComplete(self) -> bool:
        outcome = self.outcome
        return self.use_demo or (
            outcome is not None and outcome.report.passed and outcome.keyring_problem is None
        )

    def nextId(self) -> int:
        if self.use_demo:
            return Page.DONE
        if self.outcome is not None and self.outcome.needs_admin:
            return Page.ADMIN
        return Page.DONE

    def start_check(self) -> None:
        self._check_number += 1
        number = self._check_number
        self.outcome = None
        self.completeChanged.emit()
        for step, label in self.step_labels.items():
            waiting = None if step is CheckStep.ADDRESS else StepResult(step, StepState.NOT_RUN)
            label.setText(step_text(step, waiting))
        self.failure.clear()
        self.advice.clear()
        self.ca_button.hide()
        self.check_again_button.setEnabled(False)
        choice = self._wizard.server_page.choice()
        plan, relay = self._wizard.plan, self._relay

        def check() -> _CheckOutcome:
            report = check_connection(choice, lambda result: relay.step.emit(number, result))
            if not report.passed:
                return _CheckOutcome(report, None, needs_admin=False)
            target = settings_with(plan, server_changes(plan, choice))
            return _CheckOutcome(report, keyring_problem(target), not has_local_users(target))

        self._wizard.jobs.submit(
            "Checking the connection",
            check,
            lambda outcome: self._checked(number, outcome),
            lambda error: self._check_failed(number, error),
            owner=self,
        )

    def _show_step(self, number: int, result: StepResult) -> None:
        if number != self._check_number:
            return
        self.step_labels[result.step].setText(step_text(result.step, result))
        steps = list(CheckStep)
        following = steps.index(result.step) + 1
        if result.state is not StepState.FAILED and following < len(steps):
            self.step_labels[steps[following]].setText(step_text(steps[following], None))

    def _checked(self, number: int, outcome: _CheckOutcome) -> None:
        if number != self._check_number:
            return
        for result in outcome.report.results:
            self._show_step(number, result)
        self.outcome = outcome
        self.check_again_button.setEnabled(True)
        failure = outcome.report.failure
        if failure is not None:
            self.failure.setText(f"{failure.step.value}: {failure.detail}")
            self.advice.setText(f"What to do: {failure.advice}")
            self.ca_button.setVisible(failure.remedy is Remedy.CA_FILE)
            # The field to correct gets the focus when Back shows it; here, the way there.
            self._wizard.server_page.remedy = failure.remedy
            visible_next = {
                Remedy.CA_FILE: self.ca_button,
                Remedy.RETRY: self.check_again_button,
            }.get(
                failure.remedy or Remedy.RETRY, self._wizard.button(QWizard.WizardButton.BackButton)
            )
            visible_next.setFocus()
        elif outcome.keyring_problem is not None:
            self.failure.setText("The token cannot be kept safely on this workstation.")
            self.advice.setText(
                f"What to do: {outcome.keyring_problem} There is no settings file yet: on a "
                "test machine, start Beacon with BEACON_SECURITY__KEYRING_BACKEND=file instead."
            )
        else:
            self.advice.setText("All steps passed. Press Next to go on.")
        self.completeChanged.emit()
        if self.isComplete():
            next_button = self._wizard.button(QWizard.WizardButton.NextButton)
            next_button.setFocus()

    def _check_failed(self, number: int, error: Exception) -> None:
        if number != self._check_number:
            return
        log.error("the connection check failed unexpectedly", exc_info=error)
        self.check_again_button.setEnabled(True)
        self.failure.setText(f"The check itself failed ({type(error).__name__}).")
        self.advice.setText(
            "What to do: check again; if it fails the same way, tell IT what this page says."
        )

    def _choose_ca_file(self) -> None:
        if self._wizard.server_page.choose_ca_file():
            self.start_check()

    def _use_demo(self) -> None:
        self._check_number += 1
        self.check_again_button.setEnabled(True)
        self.use_demo = True
        self._wizard.welcome_page.demo_choice.setChecked(True)
        self.completeChanged.emit()
        self._wizard.next()


class AdminPage(QWizardPage):
    """The workstation's first account (an administrator), when it has none."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("The first administrator")
        self.setSubTitle(
            "This workstation has no Beacon accounts yet. Create the administrator who will "
            "add the operators (`beacon user add`)."
        )
        self.username_edit = QLineEdit()
        self.username_edit.setObjectName("adminUsernameEdit")
        self.username_edit.setToolTip(
            "The administrator's Beacon user name (letters, digits, '.', '_', '-')"
        )
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("adminPasswordEdit")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setToolTip("At least 10 characters; a sentence is easier to remember")
        self.repeat_edit = QLineEdit()
        self.repeat_edit.setObjectName("adminRepeatEdit")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit.setToolTip("The same password again, to catch a typo")
        self.problem = _wrapped("", "errorText")
        form = QFormLayout()
        for text, field in (
            ("&User name", self.username_edit),
            ("&Password", self.password_edit),
            ("&Repeat the password", self.repeat_edit),
        ):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        for edit in (self.username_edit, self.password_edit, self.repeat_edit):
            edit.textChanged.connect(self.completeChanged)
            edit.textChanged.connect(lambda _text: self.problem.clear())

    def initializePage(self) -> None:
        self.username_edit.setFocus()

    def isComplete(self) -> bool:
        return all(e.text() for e in (self.username_edit, self.password_edit, self.repeat_edit))

    def validatePage(self) -> bool:
        problem = admin_problem(*self.values())
        if problem is not None:
            self.problem.setText(problem)
            return False
        return True

    def values(self) -> tuple[str, str, str]:
        return (
            self.username_edit.text().strip(),
            self.password_edit.text(),
            self.repeat_edit.text(),
        )

    def nextId(self) -> int:
        return Page.DONE


class DonePage(QWizardPage):
    """What will be written; Finish writes it (off the UI thread) and closes the wizard."""

    def __init__(self, wizard: FirstRunWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Ready")
        self.summary = _wrapped("")
        self.summary.setObjectName("doneSummary")
        self.progress = _wrapped("")
        self.problem = _wrapped("", "errorText")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.progress)
        layout.addWidget(self.problem)
        layout.addStretch(1)
        self.working = False

    def initializePage(self) -> None:
        wizard = self._wizard
        self.problem.clear()
        self.progress.clear()
        path = wizard.plan.config_path
        finish = wizard.finish_text
        if wizard.uses_demo:
            self.setSubTitle("Beacon will start with the demo city.")
            self.summary.setText(
                f"“{finish}” builds the demo city in {wizard.plan.base.data_dir} (up to a "
                f"minute the first time) and writes the settings to {path}.\n\n"
                "Then sign in as operator / beacon-operator. To connect to the agency's server "
                "later, run `beacon setup`."
            )
            return
        choice = wizard.server_page.choice()
        admin = wizard.admin_page.values()[0] if wizard.needs_admin else None
        lines = [
            f"Server: {choice.server_url}",
            f"Workstation: {choice.workstation}",
            "Token: into this computer's keyring (not into the settings file)",
        ]
        if choice.ca_file:
            lines.append(f"CA certificate: {choice.ca_file}")
        if admin:
            lines.append(f"First administrator: {admin}")
        lines += [f"Settings file: {path}", ""]
        if admin:
            lines.append(
                f"Then sign in as {admin}, and add the operators with "
                "`beacon user add NAME --role operator`."
            )
        else:
            lines.append("Then sign in with your Beacon account.")
        self.setSubTitle(f"The connection works. “{finish}” writes what is below.")
        self.summary.setText("\n".join(lines))

    def cleanupPage(self) -> None:
        check = self._wizard.check_page
        if check.use_demo:  # back from the demo to the server: check it again
            check.use_demo = False
            self._wizard.welcome_page.server_choice.setChecked(True)
            check.start_check()

    def isComplete(self) -> bool:
        return not self.working

    def validatePage(self) -> bool:
        if self._wizard.settings is not None:
            return True
        if not self.working:
            self._wizard.start_finish()
        return False

    def show_working(self, text: str) -> None:
        self.working = True
        self.problem.clear()
        self.progress.setText(text)
        self.completeChanged.emit()

    def show_failure(self, text: str) -> None:
        self.working = False
        self.progress.clear()
        self.problem.setText(text)
        self.completeChanged.emit()


class FirstRunWizard(QWizard):
    """The wizard; ``settings`` holds what was written once it is accepted."""

    def __init__(
        self,
        plan: FirstRunPlan,
        jobs: BackgroundJobs,
        *,
        finish_text: str = "Save and sign in",
        clock: Clock = utc_now,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self.jobs = jobs
        self._clock = clock
        self.finish_text = finish_text.replace("&", "")
        self.settings: Settings | None = None
        self.setObjectName("firstRunWizard")
        self.setWindowTitle("Beacon: set up this workstation")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.welcome_page = WelcomePage()
        self.server_page = ServerPage(plan.base)
        self.check_page = CheckPage(self)
        self.admin_page = AdminPage()
        self.done_page = DonePage(self)
        for page_id, page in (
            (Page.WELCOME, self.welcome_page),
            (Page.SERVER, self.server_page),
            (Page.CHECK, self.check_page),
            (Page.ADMIN, self.admin_page),
            (Page.DONE, self.done_page),
        ):
            self.setPage(page_id, page)
        self.setStartId(Page.WELCOME)
        self._shown: int = Page.WELCOME
        self.currentIdChanged.connect(self._page_shown)
        self.setButtonText(QWizard.WizardButton.FinishButton, finish_text)
        self.setButtonText(QWizard.WizardButton.NextButton, "&Next")
        self.setButtonText(QWizard.WizardButton.BackButton, "&Back")
        tips = {
            QWizard.WizardButton.BackButton: "Go back to the previous page (Alt+B)",
            QWizard.WizardButton.NextButton: "Go on to the next page (Enter)",
            QWizard.WizardButton.FinishButton: "Write the settings and go on (Enter)",
            QWizard.WizardButton.CancelButton: "Stop: nothing is written (Esc)",
            QWizard.WizardButton.CommitButton: "Go on",
            QWizard.WizardButton.HelpButton: "Help",
        }
        for which, tip in tips.items():
            self.button(which).setToolTip(tip)
        self.setMinimumSize(720, 520)
        self.resize(820, 600)

    def _page_shown(self, page_id: int) -> None:
        if page_id == Page.SERVER and self._shown == Page.CHECK:
            self.server_page.shown_again()
        self._shown = page_id

    @property
    def uses_demo(self) -> bool:
        return self.welcome_page.demo_choice.isChecked()

    @property
    def needs_admin(self) -> bool:
        outcome = self.check_page.outcome
        return outcome is not None and outcome.needs_admin and not self.uses_demo

    def start_finish(self) -> None:
        plan, clock = self.plan, self._clock
        if self.uses_demo:
            self._working("Building the demo city… (up to a minute)")
            self.jobs.submit(
                "Setting up the demo city",
                lambda: finish_with_demo(plan, clock),
                self._finished,
                self._finish_failed,
                owner=self,
            )
            return
        choice = self.server_page.choice()
        admin = FirstAdmin(*self.admin_page.values()[:2]) if self.needs_admin else None
        self._working("Saving the token in the keyring and writing the settings…")
        self.jobs.submit(
            "Saving the workstation's settings",
            lambda: finish_with_server(plan, choice, admin, clock),
            self._finished,
            self._finish_failed,
            owner=self,
        )

    def _working(self, text: str) -> None:
        self.done_page.show_working(text)
        # After the page's completeChanged, which lets the wizard enable Back again.
        self.button(QWizard.WizardButton.CancelButton).setEnabled(False)
        self.button(QWizard.WizardButton.BackButton).setEnabled(False)

    def _finished(self, settings: Settings) -> None:
        self.settings = settings
        self.done_page.working = False
        self.accept()

    def _finish_failed(self, error: Exception) -> None:
        log.error("the first-run set-up could not be finished", exc_info=error)
        self.button(QWizard.WizardButton.CancelButton).setEnabled(True)
        self.button(QWizard.WizardButton.BackButton).setEnabled(True)
        self.done_page.show_failure(
            f"Not finished: {error}\nCorrect it and press the button again, or cancel (the "
            "settings file is written last, so the next start asks again)."
        )

    def reject(self) -> None:
        if self.done_page.working:
            return  # writing: cancelling now would leave half of it
        super().reject()
