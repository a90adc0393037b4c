"""The programme documents rendered: Markdown, CSV, HTML and PDF (headless Chromium,
as for reporting's monthly insight summary)."""

from __future__ import annotations

import csv
import io
from html import escape

from services.alerts.domain.programme_report import Cell, Document

FORMATS = ("md", "csv", "html", "pdf")


def _cell(value: Cell) -> str:
    return "" if value is None else str(value)


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", f"As of {doc.as_of}.", ""]
    if doc.figures:
        out += ["| figure | value |", "|---|---|"]
        out += [f"| {k} | {_cell(v)} |" for k, v in doc.figures]
        out.append("")
    for s in doc.sections:
        out += [f"## {s.title}", ""]
        if s.note:
            out += [s.note, ""]
        if s.rows:
            out.append("| " + " | ".join(s.columns) + " |")
            out.append("|" + "---|" * len(s.columns))
            out += ["| " + " | ".join(_cell(c).replace("|", "/") for c in r) + " |" for r in s.rows]
        else:
            out.append("None.")
        out.append("")
    return "\n".join(out)


def to_csv(doc: Document) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["section", "field", "value"])
    for k, v in doc.figures:
        w.writerow(["figures", k, _cell(v)])
    for s in doc.sections:
        for i, r in enumerate(s.rows, start=1):
            for col, c in zip(s.columns, r, strict=True):
                w.writerow([f"{s.title} #{i}", col, _cell(c)])
    return buf.getvalue()


CSS = """body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;
margin:.5em 0 1.5em}td,th{border:1px solid #999;padding:.25em .5em;text-align:left}
th{background:#eee}.red{background:#f4b6b6}.amber{background:#fbe3a8}
.green{background:#c8e6c9}.blue{background:#bbdefb}.OVERDUE{background:#f4b6b6}"""


def to_html(doc: Document) -> str:
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(doc.title)}</h1><p>As of {doc.as_of}.</p>",
    ]
    if doc.figures:
        parts.append("<table class=figures><tr><th>figure</th><th>value</th></tr>")
        parts += [
            f"<tr><td>{escape(k)}</td><td>{escape(_cell(v))}</td></tr>" for k, v in doc.figures
        ]
        parts.append("</table>")
    for s in doc.sections:
        parts.append(f"<h2>{escape(s.title)}</h2>")
        if s.note:
            parts.append(f"<p>{escape(s.note)}</p>")
        if not s.rows:
            parts.append("<p>None.</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{escape(c)}</th>" for c in s.columns) + "</tr>")
        for r in s.rows:
            cells = "".join(f"<td class='{escape(_cell(c))}'>{escape(_cell(c))}</td>" for c in r)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render(doc: Document, fmt: str, chromium: str | None = None) -> tuple[bytes, str]:
    """(content, media type) of ``doc`` in ``fmt``."""
    if fmt == "md":
        return to_markdown(doc).encode(), "text/markdown; charset=utf-8"
    if fmt == "csv":
        return to_csv(doc).encode(), "text/csv; charset=utf-8"
    if fmt == "html":
        return to_html(doc).encode(), "text/html; charset=utf-8"
    if fmt == "pdf":
        from services.reporting.pdf import html_to_pdf

        return html_to_pdf(to_html(doc), chromium=chromium), "application/pdf"
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")
