"""Stream URLs: stored without credentials, joined with them only at connect time, and
redacted wherever they could be shown or logged."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "file"})
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]*@")


class CredentialsInUrlError(ValueError):
    """A stream URL carried a user name or password; those belong in the keyring."""


def check_stream_url(url: str | None) -> str | None:
    """Accept a stream URL only without credentials (they live in the keyring)."""
    if url is None or url == "":
        return None
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise CredentialsInUrlError(
            "stream URLs are stored without credentials; put the user name and password "
            "in the camera's credentials instead"
        )
    if parts.scheme not in STREAM_SCHEMES:
        raise ValueError(f"unsupported stream URL scheme {parts.scheme!r}")
    return url


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """Split a URL someone typed with credentials into (clean URL, user name, password).

    The user name and password come back percent-decoded (``p%40ss`` in a URL is ``p@ss``),
    as the keyring keeps them; ``url_with_credentials`` encodes them again.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, username, password


def url_with_credentials(url: str, username: str, password: str) -> str:
    """The URL a decoder connects to; never log, show or raise it."""
    parts = urlsplit(url)
    userinfo = f"{quote(username, safe='')}:{quote(password, safe='')}@"
    return urlunsplit((parts.scheme, userinfo + parts.netloc, parts.path, parts.query, ""))


def redact_url(text: str) -> str:
    """Replace any ``user:password@`` in ``text`` (a URL or a message holding one) with ``***@``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)
