"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the footage request tests.

``SmtpServer`` keeps every message it accepted with its envelope and the user that logged in.
With ``login=(user, password)`` it offers AUTH (over plain text: loopback only) and refuses any
other pair; ``refuse`` names recipients it answers 550 for, echoing the address back as real
servers do. Used as ``with contextlib.closing(SmtpServer()) as server:``.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None  # the user that logged in before sending, if any


class SmtpServer:
    def __init__(self, *, login: tuple[str, str] | None = None) -> None:
        self.login = login
        self.refuse: set[str] = set()
        self.received: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._server = started.result(timeout=10)
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _start(self) -> asyncio.Server:
        def protocol() -> SMTP:
            return SMTP(
                self,
                hostname="smtp.test",
                authenticator=self._authenticate if self.login else None,
                auth_require_tls=False,
                loop=self._loop,
            )

        return await self._loop.create_server(protocol, "127.0.0.1", 0)

    def _authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        assert self.login is not None and isinstance(data, LoginPassword)
        given = (data.login.decode(), data.password.decode())
        # handled=False: aiosmtpd itself answers 535 to a refused login
        return AuthResult(success=given == self.login, handled=False, auth_data=given[0])

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data if session.authenticated else None
        with self._lock:
            self.received.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, login)
            )
        return "250 Message accepted for delivery"

    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
