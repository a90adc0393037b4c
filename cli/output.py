"""Where the commands write: results to stdout, progress and problems to stderr."""

from __future__ import annotations

from rich.console import Console

console = Console()
err = Console(stderr=True)
