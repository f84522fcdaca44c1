"""The owner's upload page, served at the link a footage request carries: no account, one link,
used once.

``GET /upload/{token}`` shows only what was asked (camera, time window in the owner's time zone,
incident type) and lets the owner send video files, resumably: the page opens an upload
(``POST /upload/{token}/files`` with the name and size), sends it in chunks
(``PUT /upload/{token}/files/{upload_id}`` with ``Content-Range``) and, when a chunk fails, asks
where the server stopped (``HEAD`` or ``GET`` of the same address: ``Upload-Offset``) and
continues from there. A complete file is checked to be video and kept, or removed with the
reason. "I'm done" (``POST /upload/{token}/done``) answers with a receipt; "I have nothing"
(``POST /upload/{token}/decline`` with a reason) records that; both use the link up. A link
that does not work answers with a page saying why and what to do, never a trace.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations at run
time.
"""

import asyncio
import html
import json
import logging
import re
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.requests import ClientDisconnect

from server.evidence_api import EvidenceContext
from server.evidence_models import EvidenceFile, EvidenceRequest
from server.evidence_service import (
    LinkRefused,
    Transfer,
    UploadRefused,
    received_files,
    request_for_link,
)
from server.evidence_vault import SEGMENT_SIZE

PAGE_CHUNK_BYTES = 32 * 1024 * 1024  # what the page sends per request, within the chunk limit
MAX_REASON_CHARS = 2000
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
CONTENT_RANGE = re.compile(r"^bytes (\d{1,15})-(\d{1,15})/(\d{1,15})$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the link is the owner's key: never pass it on
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
ASSETS = {"upload.js": "text/javascript", "upload.css": "text/css"}
TOKEN_IN_PATH = re.compile(r"/upload/[^/?\s\"]+")


class HideUploadTokens(logging.Filter):
    """Keeps the secret of upload links out of the access log (uvicorn logs each path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_PATH.sub("/upload/<token>", value) if isinstance(value, str) else value
                for value in record.args
            )
        return True


def hide_upload_tokens(logger: logging.Logger) -> None:
    if not any(isinstance(known, HideUploadTokens) for known in logger.filters):
        logger.addFilter(HideUploadTokens())


def _asset(name: str) -> bytes:
    return resources.files("server").joinpath("evidence_page", name).read_bytes()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _day(moment: datetime) -> str:
    """e.g. "21 November 2026" (no zero padding, on every platform's strftime)."""
    return f"{moment.day} {moment:%B %Y}"


def human_window(start: datetime, end: datetime, zone_name: str) -> str:
    """e.g. "Saturday 21 November 2026, 19:00 to 19:30 (CST, America/Chicago)"; a window over
    a change of the clocks names both ("CST to CDT")."""
    zone = ZoneInfo(zone_name)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() == last.date():
        text = f"{first:%A} {_day(first)}, {first:%H:%M} to {last:%H:%M}"
    else:
        text = f"{first:%A} {_day(first)} {first:%H:%M} to {last:%A} {_day(last)} {last:%H:%M}"
    names = (
        first.tzname()
        if first.tzname() == last.tzname()
        else f"{first.tzname()} to {last.tzname()}"
    )
    return f"{text} ({names}, {zone_name})"


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} bytes"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{_e(title)}</title>
<link rel="stylesheet" href="/upload-assets/upload.css">
</head>
<body>
<main>
<h1>{_e(title)}</h1>
{body}
</main>
</body>
</html>
"""
    return HTMLResponse(document, status, headers=SECURITY_HEADERS)


def _refused_page(exc: LinkRefused) -> HTMLResponse:
    return _page(exc.title, f'<p class="notice">{_e(exc.message)}</p>', exc.status)


def _request_facts(request: EvidenceRequest) -> str:
    window = human_window(request.window_start, request.window_end, request.time_zone)
    return f"""<dl class="facts">
<dt>Camera</dt><dd>{_e(request.camera_name)}</dd>
<dt>Time asked for</dt><dd>{_e(window)}</dd>
<dt>Incident</dt><dd>{_e(request.incident_type)}</dd>
</dl>"""


def _file_rows(files: list[EvidenceFile]) -> str:
    return "".join(
        f'<li class="kept"><span class="name">{_e(f.original_name)}</span> '
        f'<span class="state">received, {_e(human_size(f.size))}</span></li>'
        for f in files
    )


def _upload_page(
    token: str, request: EvidenceRequest, files: list[EvidenceFile], chunk: int, problem: str = ""
) -> HTMLResponse:
    zone = ZoneInfo(request.time_zone)
    until = request.expires_at.astimezone(zone)
    notice = f'<p class="notice" role="alert">{_e(problem)}</p>' if problem else ""
    body = f"""<p>You were asked for video from your camera. Send only the time asked for.
Nobody needs an account; this link works once, until {_e(f"{_day(until)} {until:%H:%M}")}
({_e(until.tzname())}).</p>
{_request_facts(request)}
{notice}
<section id="send" data-token="{_e(token)}" data-chunk="{chunk}">
<h2>Send video</h2>
<label class="button" for="files">Choose video files</label>
<input id="files" class="picker" type="file" accept="video/*" multiple>
<noscript><p class="notice">Sending files needs JavaScript; turn it on, or contact the
agency.</p></noscript>
<ul id="list" class="files">{_file_rows(files)}</ul>
<form method="post" action="/upload/{_e(token)}/done">
<button id="done" class="button primary" type="submit"{"" if files else " disabled"}>I&#x2019;m
done: get my receipt</button>
</form>
</section>
<section id="decline">
<h2>Nothing to give?</h2>
<form method="post" action="/upload/{_e(token)}/decline">
<label for="reason">Tell the agency why (for example: the camera did not record then)</label>
<textarea id="reason" name="reason" rows="3" maxlength="{MAX_REASON_CHARS}" required></textarea>
<button class="button" type="submit">I have nothing to give</button>
</form>
</section>
<script src="/upload-assets/upload.js"></script>"""
    return _page("Footage request", body, 400 if problem else 200)


def _receipt_page(request: EvidenceRequest, files: list[EvidenceFile]) -> HTMLResponse:
    rows = "".join(
        f"<tr><td>{_e(f.original_name)}</td><td>{_e(human_size(f.size))}</td>"
        f'<td class="hash">{_e(f.sha256)}</td></tr>'
        for f in files
    )
    body = f"""<p class="ok">Thank you. The agency has your video.</p>
<p>Receipt number <strong id="receipt">{_e(request.receipt_number)}</strong>. Keep this page
(print it or take a screenshot): the fingerprint (SHA-256) of each file shows it was received
exactly as you sent it.</p>
{_request_facts(request)}
<div class="scroll"><table>
<thead><tr><th>File</th><th>Size</th><th>SHA-256</th></tr></thead>
<tbody>{rows}</tbody>
</table></div>"""
    return _page("Receipt", body)


def _json_refusal(status: int, message: str, received: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": message}
    headers = {"Cache-Control": "no-store"}
    if received is not None:
        body["received"] = received
        headers["Upload-Offset"] = str(received)
    return JSONResponse(body, status, headers=headers)


def _content_range(header: str | None, size: int) -> tuple[int, int]:
    match = CONTENT_RANGE.match(header or "")
    if match is None:
        raise UploadRefused(400, "each chunk needs a Content-Range: bytes FIRST-LAST/SIZE header")
    first, last, total = (int(group) for group in match.groups())
    if total != size or not first <= last < total:
        raise UploadRefused(400, f"the Content-Range {header} does not fit this {size}-byte file")
    return first, last - first + 1


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def upload_page_router(context: EvidenceContext) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    sessions, settings, clock, receiver = (
        context.sessions,
        context.settings,
        context.clock,
        context.receiver,
    )
    chunk = min(PAGE_CHUNK_BYTES, settings.max_upload_chunk_bytes)
    hide_upload_tokens(logging.getLogger("uvicorn.access"))

    def _checked(token: str) -> str:
        if not TOKEN.match(token):
            raise LinkRefused(
                404,
                "This link is not known",
                "This upload link is not complete. Check that you copied the whole link from "
                "the message, or contact the agency that asked you for footage.",
            )
        return token

    @router.get("/upload-assets/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response("not found", 404, media_type="text/plain")
        return Response(_asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    @router.get("/upload/{token}", response_class=HTMLResponse)
    def page(token: str) -> HTMLResponse:
        try:
            with sessions.begin() as session:
                request = request_for_link(session, _checked(token), clock())
                return _upload_page(token, request, received_files(session, request), chunk)
        except LinkRefused as exc:
            return _refused_page(exc)

    @router.post("/upload/{token}/files")
    async def open_file(token: str, request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            name, size = str(body["name"]), body["size"]
            if not isinstance(size, int) or isinstance(size, bool):
                raise TypeError(size)
        except (ValueError, KeyError, TypeError):
            return _json_refusal(400, 'send {"name": "...", "size": BYTES} as JSON')

        def opened() -> dict[str, Any]:
            with sessions.begin() as session:
                stored = request_for_link(session, _checked(token), clock())
                upload = receiver.open(session, stored, name, size, clock())
                return {"upload_id": upload.id, "name": upload.original_name, "received": 0}

        try:
            return JSONResponse(await run_in_threadpool(opened), 201)
        except LinkRefused as exc:
            return _json_refusal(exc.status, exc.message)
        except UploadRefused as exc:
            return _json_refusal(exc.status, exc.message)

    @router.api_route("/upload/{token}/files/{upload_id}", methods=["GET", "HEAD"])
    def offset(token: str, upload_id: str) -> JSONResponse:
        try:
            with sessions() as session:
                stored = request_for_link(session, _checked(token), clock())
                upload = receiver.upload_of(session, stored, upload_id)
                body = {"received": upload.received, "size": upload.size}
        except LinkRefused as exc:
            return _json_refusal(exc.status, exc.message)
        except UploadRefused as exc:
            return _json_refusal(exc.status, exc.message)
        headers = {
            "Upload-Offset": str(body["received"]),
            "Upload-Length": str(body["size"]),
            "Cache-Control": "no-store",
        }
        return JSONResponse(body, headers=headers)

    def claimed(token: str, upload_id: str, content_range: str | None) -> tuple[Transfer, int]:
        with sessions() as session:
            stored = request_for_link(session, _checked(token), clock())
            upload = receiver.upload_of(session, stored, upload_id)
            first, length = _content_range(content_range, upload.size)
            if length > settings.max_upload_chunk_bytes:
                raise UploadRefused(
                    413, f"send chunks of at most {settings.max_upload_chunk_bytes} bytes"
                )
            return receiver.claim(upload, first), length

    def recorded(transfer: Transfer) -> None:
        try:
            transfer.close()
            with sessions.begin() as session:
                receiver.record(session, transfer, clock())
        finally:
            transfer.release()

    def finished(token: str, transfer: Transfer) -> dict[str, Any]:
        with sessions.begin() as session:
            stored = request_for_link(session, token, clock())
            upload = receiver.upload_of(session, stored, transfer.upload_id)
            try:
                evidence = receiver.finish(session, stored, upload, transfer.sha256, clock())
            except UploadRefused as exc:
                refusal = exc  # the file is removed: commit that, then say why
            else:
                return {
                    "received": evidence.size,
                    "size": evidence.size,
                    "complete": True,
                    "name": evidence.original_name,
                    "sha256": evidence.sha256,
                }
            finally:
                receiver.forget(transfer.upload_id)
        raise refusal

    @router.put("/upload/{token}/files/{upload_id}")
    async def put_chunk(token: str, upload_id: str, request: Request) -> JSONResponse:
        try:
            transfer, length = await run_in_threadpool(
                claimed, token, upload_id, request.headers.get("content-range")
            )
        except LinkRefused as exc:
            return _json_refusal(exc.status, exc.message)
        except UploadRefused as exc:
            return _json_refusal(exc.status, exc.message, exc.received)
        arrived = 0
        pending = bytearray()
        problem: UploadRefused | None = None
        # One segment is sealed in a worker thread while the next one arrives.
        sealing: asyncio.Future[None] | None = None
        try:
            try:
                async for piece in request.stream():
                    arrived += len(piece)
                    if arrived > length:
                        raise UploadRefused(400, "the chunk is longer than its Content-Range")
                    pending += piece
                    if len(pending) >= SEGMENT_SIZE:
                        segment = bytes(pending[:SEGMENT_SIZE])
                        del pending[:SEGMENT_SIZE]
                        if sealing is not None:
                            await sealing
                        sealing = asyncio.ensure_future(run_in_threadpool(transfer.write, segment))
            except ClientDisconnect:
                pass  # keep what arrived: the page asks for the offset and continues
            except UploadRefused as exc:
                problem = exc
                pending.clear()
            if sealing is not None:
                await sealing
            if pending:
                await run_in_threadpool(transfer.write, bytes(pending))
        finally:
            if sealing is not None and not sealing.done():
                await asyncio.wait([sealing])
            await run_in_threadpool(recorded, transfer)
        if problem is not None:
            return _json_refusal(problem.status, problem.message, transfer.received)
        if not transfer.complete:
            body = {"received": transfer.received, "size": transfer.size, "complete": False}
            return JSONResponse(body, headers={"Upload-Offset": str(transfer.received)})
        try:
            return JSONResponse(await run_in_threadpool(finished, token, transfer))
        except LinkRefused as exc:
            return _json_refusal(exc.status, exc.message)
        except UploadRefused as exc:
            return _json_refusal(exc.status, exc.message)

    @router.post("/upload/{token}/done", response_class=HTMLResponse)
    def done(token: str) -> HTMLResponse:
        try:
            with sessions.begin() as session:
                stored = request_for_link(session, _checked(token), clock())
                try:
                    receiver.close_request(session, stored, clock(), decline=None)
                except UploadRefused as exc:
                    files = received_files(session, stored)
                    return _upload_page(token, stored, files, chunk, exc.message)
                return _receipt_page(stored, received_files(session, stored))
        except LinkRefused as exc:
            return _refused_page(exc)

    @router.post("/upload/{token}/decline", response_class=HTMLResponse)
    async def decline(token: str, request: Request) -> HTMLResponse:
        reason = (await _form(request)).get("reason", "").replace("\x00", "").strip()

        def declined() -> HTMLResponse:
            with sessions.begin() as session:
                stored = request_for_link(session, _checked(token), clock())
                if not reason:
                    files = received_files(session, stored)
                    return _upload_page(
                        token, stored, files, chunk, "Say in a few words why you have nothing."
                    )
                receiver.close_request(session, stored, clock(), decline=reason[:MAX_REASON_CHARS])
                return _page(
                    "Thank you",
                    '<p class="ok">Your answer was recorded: the agency will not wait for '
                    "video from this camera. You can close this page.</p>",
                )

        try:
            return await run_in_threadpool(declined)
        except LinkRefused as exc:
            return _refused_page(exc)
        except UploadRefused as exc:
            return _page("Not recorded", f'<p class="notice">{_e(exc.message)}</p>', exc.status)

    return router
