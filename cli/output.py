"""Where the commands write: results to stdout, progress and problems to stderr."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

console = Console()
err = Console(stderr=True)


def progress_bar(label: str = "{task.description}") -> Progress:
    """The progress bar of a long command, on stderr (``label``: a rich format string)."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )
