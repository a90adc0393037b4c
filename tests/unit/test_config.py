"""Deployment configuration: one ``Settings`` reads every ``SENDWATCH_*`` variable, and the
README's configuration tables list exactly what the services and the CLI read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sendwatch.config import CONTRACTS, Settings, service_ports

ROOT = Path(__file__).resolve().parents[2]
# Being moved into Settings by the measure engine's change.
ENV_EXEMPT_CONTRACTS = {"kpi_dictionary.py", "clock_rules.py"}
NAME = re.compile(r"SENDWATCH_[A-Z0-9_]+")


def _tables(readme: str) -> list[set[str]]:
    """The variable names in the first column of each table of the Configuration section."""
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    tables: list[set[str]] = []
    in_table = False
    for line in section.splitlines():
        if line.startswith("| variable |"):
            tables.append(set())
            in_table = True
        elif in_table and line.startswith("|"):
            tables[-1].update(NAME.findall(line.split("|")[1]))
        else:
            in_table = False
    return tables


def test_readme_lists_exactly_the_variables_settings_reads() -> None:
    services = _tables((ROOT / "README.md").read_text())[0]
    read = set(Settings.variables())
    assert len(read) == len(Settings.variables()), "a variable is read twice"
    assert services == read, (
        f"missing from the README: {sorted(read - services)}; "
        f"in the README but not read: {sorted(services - read)}"
    )


def test_readme_lists_exactly_the_variables_only_the_cli_reads() -> None:
    cli_table = _tables((ROOT / "README.md").read_text())[1]
    in_cli = {
        name for path in (ROOT / "cli").rglob("*.py") for name in NAME.findall(path.read_text())
    }
    cli_only = in_cli - set(Settings.variables())
    assert cli_table == cli_only, (
        f"missing from the README: {sorted(cli_only - cli_table)}; "
        f"in the README but not in cli/: {sorted(cli_table - cli_only)}"
    )


def test_readme_lists_exactly_the_variables_the_contract_validators_read() -> None:
    table = _tables((ROOT / "README.md").read_text())[2]
    read = {
        name
        for path in (ROOT / "contracts").glob("*.py")
        if path.name not in ENV_EXEMPT_CONTRACTS
        for name in NAME.findall(path.read_text())
        if "os.environ" in path.read_text()
    }
    assert table == read, (
        f"missing from the README: {sorted(read - table)}; "
        f"in the README but not in contracts/: {sorted(table - read)}"
    )


def test_defaults_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDWATCH_KAFKA_BOOTSTRAP", "elsewhere:9092")
    assert Settings().kafka.bootstrap == "127.0.0.1:9092"
    assert Settings.from_env().kafka.bootstrap == "elsewhere:9092"
    assert Settings.from_env({}) == Settings()


def test_every_group_is_read_and_typed() -> None:
    s = Settings.from_env(
        {
            "SENDWATCH_KAFKA_BOOTSTRAP": "a:1,b:2",
            "SENDWATCH_BATCH_MAX": "500",
            "SENDWATCH_LAG_INTERVAL_S": "0.5",
            "SENDWATCH_DATABASE_URL": "postgresql://x@127.0.0.1/db",
            "SENDWATCH_VAR_DIR": "/tmp/sw",
            "SENDWATCH_INGEST_PORT": "9001",
            "SENDWATCH_INGEST_MAX_BATCH": "5",
            "SENDWATCH_TOKENS_FILE": "/etc/sendwatch/tokens.yaml",
            "SENDWATCH_SMTP_HOST": "mail.example.org",
            "SENDWATCH_SMTP_PORT": "2525",
            "SENDWATCH_NOTIFY_RETRY_MAX_S": "1",
            "SENDWATCH_ALERTS_HORIZON_DAYS": "60",
            "SENDWATCH_UPSTREAM_TIMEOUT_S": "3",
            "SENDWATCH_WALL_CLOCK": "1",
            "SENDWATCH_CHROMIUM": "/opt/chromium",
        }
    )
    assert s.kafka.bootstrap == "a:1,b:2" and s.kafka.batch_max_records == 500
    assert s.kafka.lag_interval_s == 0.5
    assert s.db_url_for("alerts") == "postgresql://x@127.0.0.1/db"
    assert s.var_dir == Path("/tmp/sw")
    assert s.ports.ingest == 9001 and s.ports.reporting == 8000
    assert s.ingest.max_batch == 5
    assert s.files.tokens == Path("/etc/sendwatch/tokens.yaml")
    assert s.files.kpis == CONTRACTS / "kpis.yaml"
    assert (s.smtp.host, s.smtp.port, s.smtp.tls) == ("mail.example.org", 2525, "none")
    assert s.relay.retry_max_s == 1.0 and s.relay.poll_s == 2.0
    assert s.alerts.horizon_days == 60
    assert s.upstream.timeout_s == 3.0
    assert s.timeliness.wall_clock is True
    assert s.reporting.chromium == "/opt/chromium"


def test_unset_or_empty_means_the_default(tmp_path: Path) -> None:
    s = Settings.from_env({"SENDWATCH_SMTP_HOST": "", "SENDWATCH_DATABASE_URL": " "})
    assert s.smtp.host is None and s.database.url is None
    assert s.alerts.horizon_days is None and not s.timeliness.wall_clock
    s = Settings.from_env({"SENDWATCH_VAR_DIR": str(tmp_path)})
    assert s.db_url_for("ingest") == f"sqlite:///{tmp_path / 'ingest.db'}"


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(ValueError, match="SENDWATCH_BATCH_MAX='lots'"):
        Settings.from_env({"SENDWATCH_BATCH_MAX": "lots"})
    with pytest.raises(ValueError, match="SENDWATCH_WALL_CLOCK"):
        Settings.from_env({"SENDWATCH_WALL_CLOCK": "sometimes"})


def test_service_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDWATCH_ALERTS_PORT", "9003")
    assert service_ports() == {
        "reporting": 8000,
        "ingest": 8001,
        "timeliness": 8002,
        "alerts": 9003,
    }
