"""HTML to PDF with headless Chromium (Debian's ``chromium`` package), for the monthly
insight summary.  ``SENDWATCH_CHROMIUM`` (passed in as ``browser``) overrides the binary."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


class PdfUnavailable(RuntimeError):
    pass


def chromium_path(configured: str | None = None) -> str | None:
    if configured:
        return configured if Path(configured).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def html_to_pdf(html: str, timeout_s: float = 90.0, chromium: str | None = None) -> bytes:
    browser = chromium_path(chromium)
    if browser is None:
        raise PdfUnavailable("PDF needs Chromium (apt-get install chromium); use format=html")
    with tempfile.TemporaryDirectory(prefix="sendwatch-pdf-") as tmp:
        src, out = Path(tmp) / "insight.html", Path(tmp) / "insight.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            "--print-to-pdf-no-header",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfUnavailable(f"Chromium failed: {exc}") from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace")[-300:]
            raise PdfUnavailable(f"Chromium produced no PDF (exit {proc.returncode}): {tail}")
        return out.read_bytes()
