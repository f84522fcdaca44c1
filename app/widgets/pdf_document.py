"""Reports as PDF: an HTML document laid out by Qt on A4 pages, in memory.

Shared by the supervisor's session replay report and the field technician's install report.
Pictures the HTML names in ``<img src="NAME">`` are handed in as ``images`` (NAME: a QImage),
so a report needs no files beside it. The caller writes the bytes where they belong.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QBuffer, QIODevice, QMarginsF, QUrl
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

MARGIN_MM = 15


def pdf_bytes(report_html: str, *, title: str, images: Mapping[str, QImage] | None = None) -> bytes:
    """``report_html`` laid out on A4 pages as PDF, titled ``title``."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter
    )
    writer.setTitle(title)
    document = QTextDocument()
    for name, image in (images or {}).items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(report_html)
    document.print_(writer)
    del writer  # finishes the PDF into the buffer
    data = bytes(buffer.data().data())
    buffer.close()
    return data
