"""What a chart shows, as plain data: its series, markers and bars, their colours and
line patterns (pure).  ``web/charts.py`` draws them as accessible SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# GOV.UK palette: dark blue, purple, dark grey, black; all >= 4.5:1 on white.
BLUE = "#1d70b8"
PURPLE = "#4c2c92"
GREY = "#505a5f"
BLACK = "#0b0c0c"
ORANGE = "#b74100"  # darkened GOV.UK orange for 3:1+ contrast


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    colour: str = BLUE
    dash: str | None = None  # SVG stroke-dasharray
    marker: str | None = "circle"  # circle | square | None
    step: bool = False  # draw as a step line (trajectories hold until the next target)


@dataclass(frozen=True)
class Marker:
    """A point annotation, e.g. a restated (revised) figure."""

    index: int
    value: float
    label: str


@dataclass
class LineChart:
    title: str
    description: str
    x_labels: Sequence[str]
    series: list[Series]
    unit: str = "%"
    y_max: float | None = None
    markers: list[Marker] = field(default_factory=list)
    chart_id: str = "chart"
    width: int = 720
    height: int = 320


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    highlight: bool = False
    note: str = ""


@dataclass
class BarChart:
    """Horizontal bars with labels and values written next to each bar."""

    title: str
    description: str
    bars: Sequence[Bar]
    unit: str = "%"
    x_max: float | None = None
    reference: tuple[str, float] | None = None  # a dashed line, e.g. ("England", 45.9)
    chart_id: str = "bars"
    width: int = 720
