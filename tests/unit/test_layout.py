"""The package layout's rules: imports point down (cli -> services -> sendwatch ->
contracts), and only ``sendwatch/config.py`` reads the environment."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Rewritten by their owners to take a path; until then they keep their own fallback.
ENV_EXEMPT = {
    "contracts/kpi_dictionary.py",
    "contracts/clock_rules.py",
    # The contract validators' switches (plausibility window, localities, pseudonym
    # words): read where every process validates an event; the README lists them.
    "contracts/plausibility.py",
    "contracts/localities.py",
    "contracts/privacy.py",
    "contracts/events.py",  # the events registry: every process that validates an event
    "contracts/cycles.py",  # the school-term calendar: every process that labels cycles
}


def _modules(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported_modules(path)}


@pytest.mark.parametrize(
    ("top", "forbidden"),
    [
        ("contracts", {"sendwatch", "services", "cli"}),
        ("sendwatch", {"services", "cli"}),
        ("services", {"cli"}),
    ],
)
def test_imports_point_down(top: str, forbidden: set[str]) -> None:
    upward = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & forbidden)
        for p in _modules(top)
        if _imports(p) & forbidden
    }
    assert upward == {}


FRAMEWORKS = {
    "sendwatch",
    "cli",
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "starlette",
    "faststream",
    "aiokafka",
    "kafka",
    "httpx",
    "jinja2",
    "structlog",
}


def test_domains_import_no_adapter_or_framework() -> None:
    bad = []
    for path in sorted(ROOT.glob("services/*/domain/**/*.py")):
        service = path.relative_to(ROOT).parts[1]
        for name in _imported_modules(path):
            root = name.split(".")[0]
            if root in FRAMEWORKS or (
                root == "services" and not name.startswith(f"services.{service}.domain")
            ):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_settings_read_the_environment() -> None:
    reads = re.compile(r"os\.environ|getenv\(")
    found = [
        str(p.relative_to(ROOT))
        for top in ("contracts", "sendwatch", "services")
        for p in _modules(top)
        if reads.search(p.read_text())
    ]
    assert sorted(set(found) - ENV_EXEMPT) == ["sendwatch/config.py"]
