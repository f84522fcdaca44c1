"""Sending e-mail through the mail server of ``[smtp]``, with failures an operator can act on.

``SmtpMailer.connect()`` opens one connection for a batch of messages: TLS as configured (a
server that does not offer STARTTLS when it is asked for is a failure, never a quiet fall back to
plain text), then AUTH with the password from the keyring. ``SmtpConnection.send`` hands one
message to exactly the one recipient it is given: the envelope, not the headers, decides who
receives a mail, so nothing in a message can add a recipient.

Every failure is a ``MailDeliveryError`` with a short ``failure`` code for the audit log and a
message that says what happened and what to do. Neither ever holds the recipient's address (a
server reply that echoes it has it replaced) nor the password, and neither chains the
``smtplib`` exception, whose arguments can hold the address, so no traceback carries it either.
"""

from __future__ import annotations

import enum
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage

from app.services.credentials import CredentialStore
from app.settings import SmtpSettings

REDACTED_RECIPIENT = "[recipient]"
MAX_SERVER_TEXT = 200  # of a server's reply quoted in a message; replies can be long


class MailFailure(enum.StrEnum):
    NOT_CONFIGURED = "smtp_not_configured"
    NO_PASSWORD = "smtp_no_password"  # noqa: S105 (a failure code)
    UNREACHABLE = "smtp_unreachable"
    TIMEOUT = "smtp_timeout"
    TLS_FAILED = "smtp_tls_failed"
    AUTH_REFUSED = "smtp_auth_refused"
    NOT_SUPPORTED = "smtp_not_supported"
    SENDER_REFUSED = "smtp_sender_refused"
    RECIPIENT_REFUSED = "smtp_recipient_refused"
    REJECTED = "smtp_rejected"
    DISCONNECTED = "smtp_disconnected"


class MailDeliveryError(Exception):
    """A message was not handed to the mail server; the message is safe to show and to log.

    ``connection_lost`` says the connection cannot carry another message (the server is gone,
    refused the login, or timed out), as opposed to a refusal of this one message.
    """

    def __init__(self, failure: MailFailure, message: str, *, connection_lost: bool) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.connection_lost = connection_lost


def smtp_password_name(smtp: SmtpSettings) -> str:
    """The keyring name of the SMTP password. It names the user and the host, so a password
    stored for one server is never offered to another after ``host`` is changed."""
    return f"smtp:{smtp.username}@{smtp.host}"


def _server_text(exc: smtplib.SMTPResponseException) -> str:
    reply = exc.smtp_error
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + "…"
    return f"{exc.smtp_code} {text}".strip()


def _redacted(text: str, recipient: str | None) -> str:
    if not recipient:
        return text
    return re.sub(re.escape(recipient), REDACTED_RECIPIENT, text, flags=re.IGNORECASE)


def _delivery_error(
    exc: OSError, smtp: SmtpSettings, *, recipient: str | None
) -> MailDeliveryError:
    """The operator's words for what ``smtplib`` (or the socket under it) raised."""
    server = f"{smtp.host}:{smtp.port}"

    def error(failure: MailFailure, message: str, *, lost: bool = True) -> MailDeliveryError:
        return MailDeliveryError(failure, _redacted(message, recipient), connection_lost=lost)

    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(
        exc.__context__, TimeoutError
    ):
        exc = exc.__context__  # smtplib reports a read that timed out as a disconnect
    # smtplib's exceptions are OSErrors too, so the specific ones are matched first.
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return error(
            MailFailure.AUTH_REFUSED,
            f"the mail server {server} refused the user name or password "
            f"({_server_text(exc)}); store the right password for {smtp.username} in the "
            "keyring, then send again",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(
            f"{code} {' '.join(reply.decode('utf-8', 'replace').split())}"
            for code, reply in exc.recipients.values()
        )
        return error(
            MailFailure.RECIPIENT_REFUSED,
            f"the mail server {server} refused the owner's e-mail address ({replies}); check "
            "the address in the owner's contact details",
            lost=False,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return error(
            MailFailure.SENDER_REFUSED,
            f"the mail server {server} refused the sender address {smtp.from_address} "
            f"({_server_text(exc)}); check from_address under [smtp] and that "
            f"{smtp.username or 'this workstation'} may send as it",
            lost=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return error(
            MailFailure.NOT_SUPPORTED,
            f"the mail server {server} does not offer what [smtp] asks for ({exc}); check "
            "security and username under [smtp] with the mail administrator",
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return error(
            MailFailure.DISCONNECTED,
            f"the mail server {server} closed the connection ({exc or 'no reason given'}); "
            "send again later",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return error(
            MailFailure.REJECTED,
            f"the mail server {server} did not take the message ({_server_text(exc)})",
            lost=not isinstance(exc, smtplib.SMTPDataError),
        )
    if isinstance(exc, smtplib.SMTPException):
        return error(MailFailure.REJECTED, f"the mail server {server} failed: {exc}")
    if isinstance(exc, ssl.SSLError):  # certificate errors included
        return error(
            MailFailure.TLS_FAILED,
            f"TLS with the mail server {server} failed ({getattr(exc, 'reason', None) or exc}); "
            'check security and port under [smtp] (465 is usually "ssl", 587 "starttls") and '
            "the server's certificate",
        )
    if isinstance(exc, TimeoutError):
        return error(
            MailFailure.TIMEOUT,
            f"the mail server {server} did not answer within {smtp.timeout_s:g} s; check host "
            "and port under [smtp], or send again later",
        )
    return error(
        MailFailure.UNREACHABLE,
        f"the mail server {server} could not be reached ({exc.strerror or exc}); check host "
        "and port under [smtp] and the network, then send again",
    )


class SmtpConnection:
    """One open connection to the mail server; made by ``SmtpMailer.connect``."""

    def __init__(self, client: smtplib.SMTP, smtp: SmtpSettings) -> None:
        self._client = client
        self._smtp = smtp
        self.lost = False

    def send(self, message: EmailMessage, recipient: str) -> None:
        """Hand ``message`` to the server for ``recipient`` alone; raise MailDeliveryError."""
        assert self._smtp.from_address is not None  # SmtpMailer refuses settings without one
        try:
            self._client.send_message(
                message, from_addr=self._smtp.from_address, to_addrs=[recipient]
            )
        except OSError as exc:
            error = _delivery_error(exc, self._smtp, recipient=recipient)
            self.lost = error.connection_lost
            raise error from None


class SmtpMailer:
    """The mail server of ``[smtp]`` with its password; opens connections to it."""

    def __init__(self, smtp: SmtpSettings, password: str | None) -> None:
        if smtp.host is None or smtp.from_address is None:
            raise MailDeliveryError(
                MailFailure.NOT_CONFIGURED,
                "no mail server is configured: set host, from_address and agency_name under "
                "[smtp] in the settings",
                connection_lost=True,
            )
        self.settings = smtp
        self._password = password

    def __repr__(self) -> str:
        return f"<SmtpMailer {self.settings.host}:{self.settings.port} {self.settings.security}>"

    @classmethod
    def for_settings(cls, smtp: SmtpSettings, credentials: CredentialStore) -> SmtpMailer:
        """The mailer of ``[smtp]``, its password read from the keyring when a user is set."""
        password = None
        if smtp.username is not None and smtp.host is not None:
            password = credentials.get_secret(smtp_password_name(smtp))
            if password is None:
                raise MailDeliveryError(
                    MailFailure.NO_PASSWORD,
                    f"no password for the mail user {smtp.username} at {smtp.host} is in the "
                    "keyring; store it there, then send again",
                    connection_lost=True,
                )
        return cls(smtp, password)

    @property
    def from_address(self) -> str:
        assert self.settings.from_address is not None  # checked in __init__
        return self.settings.from_address

    @property
    def reply_to(self) -> str:
        return self.settings.reply_to or self.from_address

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        """An open, secured and authenticated connection; raises MailDeliveryError."""
        try:
            client = self._open()
        except OSError as exc:
            raise _delivery_error(exc, self.settings, recipient=None) from None
        connection = SmtpConnection(client, self.settings)
        try:
            yield connection
        finally:
            if connection.lost:
                client.close()  # QUIT would wait for a server that is gone or silent
            else:
                with suppress(OSError):
                    client.quit()

    def _open(self) -> smtplib.SMTP:
        smtp = self.settings
        assert smtp.host is not None  # checked in __init__
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        try:
            client.ehlo()
            if smtp.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if smtp.username is not None:
                client.login(smtp.username, self._password or "")
        except BaseException:
            client.close()
            raise
        return client
