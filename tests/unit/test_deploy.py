"""Static checks of the deployment files: docker-compose.yml, deploy/Dockerfile,
Prometheus configuration and alert rules, Grafana provisioning and dashboard.

Tools that may be missing (``docker compose``, ``promtool``) skip their tests with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
KAFKA_ENTRYPOINT = ROOT / "deploy" / "compose" / "kafka-scram.sh"
PUBLISHED = {"reporting", "ingest"}  # the only services with host ports
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_FILE = PROMETHEUS_DIR / "rules.yml"
RULES_TEST_FILE = PROMETHEUS_DIR / "rules_test.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "sendwatch-operations.json"

SENDWATCH_SERVICES = {"ingest": 8001, "timeliness": 8002, "alerts": 8003, "reporting": 8000}
INFRA_SERVICES = ("kafka", "postgres", "prometheus", "grafana")
PROMTOOL_MISSING = "promtool not installed (apt-get install prometheus)"


def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    return {str(k): str(v) for k, v in env.items()}


def _volume_specs(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) for each volume of a service, short or long syntax."""
    specs = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, str):
            parts = vol.split(":")
            if len(parts) == 1:  # anonymous volume: just a container path
                continue
            specs.append((parts[0], parts[1]))
        else:
            if vol.get("type") == "tmpfs" or "source" not in vol:
                continue
            specs.append((str(vol["source"]), str(vol["target"])))
    return specs


def _is_bind_source(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


# --- docker-compose.yml --------------------------------------------------------------------


def test_compose_declares_all_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*INFRA_SERVICES, *SENDWATCH_SERVICES):
        assert name in services, f"docker-compose.yml has no service {name!r}"


@pytest.mark.parametrize("name", sorted(SENDWATCH_SERVICES))
def test_sendwatch_service_definition(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    port = SENDWATCH_SERVICES[name]

    build = svc.get("build")
    assert isinstance(build, dict), f"{name}: should be built from deploy/Dockerfile"
    assert build.get("dockerfile") == "deploy/Dockerfile"
    assert (ROOT / build.get("context", ".") / build["dockerfile"]).is_file()

    command = svc.get("command")
    if isinstance(command, str):
        command = command.split()
    assert command[:3] == ["sendwatch", "serve", name], f"{name}: command is {command}"
    assert "--port" in command and command[command.index("--port") + 1] == str(port)
    assert "--host" in command and command[command.index("--host") + 1] == "0.0.0.0"

    assert svc.get("restart") == "unless-stopped"
    if name in PUBLISHED:
        assert any(str(p).split(":")[-1] == str(port) for p in svc.get("ports", [])), (
            f"{name}: port {port} not published"
        )
    else:
        assert not svc.get("ports"), f"{name}: must not publish a port"

    depends = svc.get("depends_on")
    assert isinstance(depends, dict), f"{name}: depends_on must use the long form with conditions"
    for dep in ("kafka", "postgres"):
        assert depends.get(dep, {}).get("condition") == "service_healthy", (
            f"{name}: depends_on {dep} must have condition service_healthy"
        )

    env = _env(svc)
    assert env.get("SENDWATCH_KAFKA_BOOTSTRAP") == "kafka:9092"
    assert env.get("SENDWATCH_DATABASE_URL", "").startswith("postgresql://")
    assert "@postgres:5432/" in env["SENDWATCH_DATABASE_URL"]
    assert "SENDWATCH_LOG_LEVEL" in env
    # Kafka login: SASL/SCRAM-SHA-512 with credentials from required variables.
    assert env["SENDWATCH_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["SENDWATCH_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    for key in ("SENDWATCH_KAFKA_SASL_USERNAME", "SENDWATCH_KAFKA_SASL_PASSWORD"):
        assert REQUIRED_VAR.fullmatch(env[key]), f"{name}: {key} must be a required variable"
    # The deployment's own registries, never the shipped development ones.
    assert env["SENDWATCH_SOURCES_FILE"].startswith("/run/secrets/")
    assert env["SENDWATCH_TOKENS_FILE"].startswith("/run/secrets/")
    assert set(svc.get("secrets") or ()) >= {"sendwatch_sources", "sendwatch_tokens"}

    health = svc.get("healthcheck")
    assert health and not health.get("disable"), f"{name}: no healthcheck"
    test = health["test"]
    test_text = " ".join(test) if isinstance(test, list) else str(test)
    assert f":{port}/healthz" in test_text, f"{name}: healthcheck does not hit /healthz"


def _listeners(value: str) -> dict[str, tuple[str, str]]:
    """``NAME://host:port,...`` as {name: (host, port)}."""
    out = {}
    for item in value.split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, port)
    return out


def test_kafka_runs_single_node_kraft(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    # Production runs the Apache Kafka version the tests run (deploy/kafka/pom.xml).
    from cli.kafka import kafka_version

    assert kafka_version().startswith("4.")
    assert kafka["image"] == f"apache/kafka:{kafka_version()}"
    env = _env(kafka)
    roles = {r.strip() for r in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@localhost:9093"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert "CONTROLLER://" in env["KAFKA_LISTENERS"]
    assert env.get("CLUSTER_ID"), "KRaft storage needs a cluster id"
    # single broker: internal topics cannot be replicated more than once
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert kafka.get("healthcheck"), "services wait on kafka being healthy"


def test_kafka_clients_must_log_in_with_scram(compose: dict[str, Any]) -> None:
    """The one listener other containers reach is SASL_PLAINTEXT with SCRAM-SHA-512;
    every plaintext listener is bound to the broker's own loopback."""
    kafka = compose["services"]["kafka"]
    env = _env(kafka)
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    assert advertised["CLIENT"] == ("kafka", "9092")
    assert protocols["CLIENT"] == "SASL_PLAINTEXT"
    for name, (host, _port) in listeners.items():
        if protocols[name] == "PLAINTEXT":
            assert host in ("localhost", "127.0.0.1"), f"{name} is plaintext off loopback"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_LISTENER_NAME_CLIENT_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    jaas = env["KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    assert "ScramLoginModule required" in jaas
    assert not kafka.get("ports"), "Kafka is reachable on the internal network only"
    # The client user is created with the storage, from required variables.
    assert REQUIRED_VAR.fullmatch(env["SCRAM_USERNAME"])
    assert REQUIRED_VAR.fullmatch(env["SCRAM_PASSWORD"])
    assert kafka["entrypoint"][-1] == "/opt/sendwatch/kafka-scram.sh"
    mounted = dict(_volume_specs(kafka))
    assert mounted["./deploy/compose/kafka-scram.sh"] == "/opt/sendwatch/kafka-scram.sh"
    script = KAFKA_ENTRYPOINT.read_text()
    assert "--add-scram" in script and "SCRAM-SHA-512=[name=" in script
    assert "kafka-storage.sh format --ignore-formatted" in script
    health = " ".join(kafka["healthcheck"]["test"])
    assert "localhost:9094" in health  # the loopback listener: no password needed
    # Every service logs in with the same user.
    for name in SENDWATCH_SERVICES:
        svc_env = _env(compose["services"][name])
        assert svc_env["SENDWATCH_KAFKA_SASL_USERNAME"] == env["SCRAM_USERNAME"]
        assert svc_env["SENDWATCH_KAFKA_SASL_PASSWORD"] == env["SCRAM_PASSWORD"]


REQUIRED_VAR = re.compile(r"\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}")
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "_KEY")


def test_only_reporting_and_ingest_publish_ports(compose: dict[str, Any]) -> None:
    published = {name for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == PUBLISHED
    networks = compose["networks"]
    assert networks["internal"].get("internal") is True
    for name, svc in compose["services"].items():
        assert "internal" in svc.get("networks", []), f"{name} is not on the internal network"
        if name not in (*PUBLISHED, "alerts"):  # alerts needs a way out (mail, webhooks)
            assert svc["networks"] == ["internal"], f"{name} must be internal only"


def test_no_literal_passwords_or_defaults(compose: dict[str, Any]) -> None:
    """Every password, token and key is a required variable (${VAR:?...}): no value and
    no default (${VAR:-...}) in the file."""
    for name, svc in compose["services"].items():
        for key, value in _env(svc).items():
            if any(word in key for word in SECRET_WORDS) and not key.endswith("_FILE"):
                assert REQUIRED_VAR.fullmatch(value), f"{name}: {key} is not a required variable"
            url = re.match(r"\w+://([^@/]+)@", value)
            if url and ":" in url.group(1):
                password = url.group(1).split(":", 1)[1]
                assert REQUIRED_VAR.fullmatch(password), f"{name}: {key} embeds a password"
    text = COMPOSE_FILE.read_text()
    defaults = re.findall(r"\$\{(\w+):?-", text)
    assert not [d for d in defaults if any(w in d for w in SECRET_WORDS)], defaults
    for secret in compose["secrets"].values():
        assert REQUIRED_VAR.fullmatch(secret["file"])


def test_development_mode_is_never_on(compose: dict[str, Any]) -> None:
    assert "SENDWATCH_DEV" not in COMPOSE_FILE.read_text()
    for name, svc in compose["services"].items():
        assert "SENDWATCH_DEV" not in _env(svc), name
    assert "dev-" not in "".join(
        v for svc in compose["services"].values() for v in _env(svc).values()
    )


def test_env_example_documents_every_required_variable() -> None:
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert {"POSTGRES_PASSWORD", "KAFKA_SASL_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= required
    example: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    assert required <= set(example), required - set(example)
    for key, value in example.items():
        if any(word in key for word in SECRET_WORDS):
            assert value == "", f".env.example must not hold a value for {key}"


def test_postgres_is_15_with_volume_and_pg_isready(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]
    assert str(pg["image"]).startswith("postgres:15")
    test = pg["healthcheck"]["test"]
    assert "pg_isready" in (" ".join(test) if isinstance(test, list) else test)
    assert any(t == "/var/lib/postgresql/data" for _, t in _volume_specs(pg))
    env = _env(pg)
    assert env["POSTGRES_USER"] == "sendwatch" and env["POSTGRES_DB"] == "sendwatch"


def test_named_volumes_are_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in compose["services"].items():
        for source, _target in _volume_specs(svc):
            if not _is_bind_source(source):
                assert source in declared, f"{name}: volume {source!r} is not declared"
                used.add(source)
    for name in ("kafka", "postgres", "prometheus", "grafana"):
        assert any(name in vol for vol in used), f"no named data volume for {name}"


def test_bind_mounted_files_exist(compose: dict[str, Any]) -> None:
    mounted = 0
    for name, svc in compose["services"].items():
        for source, _target in _volume_specs(svc):
            if source.startswith("./deploy"):
                assert (ROOT / source).exists(), f"{name}: mounts missing {source}"
                mounted += 1
    assert mounted >= 4  # prometheus config + rules, grafana provisioning + dashboards


def test_prometheus_and_grafana_mount_their_config(compose: dict[str, Any]) -> None:
    prom = dict(_volume_specs(compose["services"]["prometheus"]))
    assert prom["./deploy/prometheus/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert prom["./deploy/prometheus/rules.yml"] == "/etc/prometheus/rules.yml"
    grafana = dict(_volume_specs(compose["services"]["grafana"]))
    assert grafana["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_target = grafana["./deploy/grafana/dashboards"]
    provider = _load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml")
    assert provider["providers"][0]["options"]["path"] == dashboards_target


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def test_docker_compose_config_is_valid() -> None:
    if not _docker_compose_available():
        pytest.skip("`docker compose` (Compose v2 plugin) is not available on this machine")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# --- deploy/Dockerfile ---------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_builds_from_python_311_and_installs_project() -> None:
    instructions = _dockerfile_instructions()
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1]
        for kw, rest in instructions
        if kw == "ARG" and "=" in rest
    }
    bases = []
    for kw, rest in instructions:
        if kw == "FROM":
            image = rest.split()[0]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
            bases.append(image)
    assert bases and all(b.startswith("python:3.11") for b in bases), bases

    runs = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert re.search(r"pip install (--\S+ )*\.(\s|$)", runs), "project not installed with pip"
    assert "[dev]" not in runs, "dev extras must not be installed in the image"
    copies = " ".join(rest for kw, rest in instructions if kw == "COPY")
    for path in ("pyproject.toml", "sendwatch", "cli", "services", "contracts"):
        assert path in copies, f"{path} not copied into the image"

    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), "image must run as a non-root user"
    cmd = [rest for kw, rest in instructions if kw == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["sendwatch", "--help"]


# --- Prometheus ----------------------------------------------------------------------------


def test_prometheus_scrapes_every_service() -> None:
    config = _load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["rules.yml"]
    targets: dict[str, str] = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                targets[target] = job.get("scrape_interval", config["global"]["scrape_interval"])
    for name, port in SENDWATCH_SERVICES.items():
        assert f"{name}:{port}" in targets, f"prometheus does not scrape {name}:{port}"
        assert targets[f"{name}:{port}"] == "15s"


def test_alert_rules_have_severity_and_annotations() -> None:
    rules = {
        rule["alert"]: rule
        for group in _load_yaml(RULES_FILE)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert set(rules) >= {
        "SendwatchServiceDown",
        "SendwatchConsumerLagGrowing",
        "SendwatchDeadLetterRateHigh",
        "SendwatchNotificationFailures",
        "SendwatchKpiSnapshotStale",
    }
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key), f"{name} has no {key} annotation"
    assert "sendwatch_consumer_lag" in rules["SendwatchConsumerLagGrowing"]["expr"]
    assert "sendwatch_events_rejected_total" in rules["SendwatchDeadLetterRateHigh"]["expr"]
    assert 'outcome="rejected"' in rules["SendwatchDeadLetterRateHigh"]["expr"]


def test_rules_tests_cover_the_key_alerts() -> None:
    tested: dict[str, set[bool]] = {}
    for case in _load_yaml(RULES_TEST_FILE)["tests"]:
        for check in case.get("alert_rule_test", []):
            tested.setdefault(check["alertname"], set()).add(bool(check.get("exp_alerts")))
    for name in (
        "SendwatchServiceDown",
        "SendwatchConsumerLagGrowing",
        "SendwatchDeadLetterRateHigh",
    ):
        assert tested.get(name) == {True, False}, f"{name}: needs firing and quiet cases"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(PROMTOOL_MISSING)
    return subprocess.run(
        [promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=120
    )


def test_promtool_check_config() -> None:
    result = _promtool("check", "config", PROMETHEUS_CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", RULES_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules() -> None:
    result = _promtool("test", "rules", RULES_TEST_FILE.name)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Grafana -------------------------------------------------------------------------------

PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


def _metric_names(expr: str) -> set[str]:
    """Metric names used in a PromQL expression (a small approximation of the grammar)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery selectors
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)\b(?!\s*\()", text):
        word = match.group(1)
        if word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def test_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (service, le) "
        '(rate(sendwatch_processing_latency_seconds_bucket{service=~"$service"}[5m]))) '
        '/ on (service) group_left up{job="x"} or vector(0)'
    )
    assert _metric_names(expr) == {"sendwatch_processing_latency_seconds_bucket", "up"}
    assert _metric_names("time() - max(sendwatch_x_seconds) > 3600") == {"sendwatch_x_seconds"}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    with DASHBOARD_FILE.open(encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, dict)
    return data


def _all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(_all_panels(panel.get("panels", [])))  # collapsed rows nest panels
    return out


def test_dashboard_metadata(dashboard: dict[str, Any]) -> None:
    assert dashboard.get("title")
    assert dashboard.get("uid")
    assert isinstance(dashboard.get("schemaVersion"), int) and dashboard["schemaVersion"] >= 36
    panels = _all_panels(dashboard["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_dashboard_queries_use_sendwatch_metrics(dashboard: dict[str, Any]) -> None:
    exprs = [
        target["expr"]
        for panel in _all_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    assert len(exprs) >= 10
    used: set[str] = set()
    for expr in exprs:
        names = _metric_names(expr)
        assert names, f"no metric in {expr!r}"
        for name in names:
            assert name == "up" or name.startswith("sendwatch_"), f"{name!r} in {expr!r}"
        used |= names
    for expected in (
        "sendwatch_events_consumed_total",
        "sendwatch_events_applied_total",
        "sendwatch_ingest_events_total",
        "sendwatch_processing_latency_seconds_bucket",
        "sendwatch_consumer_lag",
        "sendwatch_events_rejected_total",
        "sendwatch_batch_size_bucket",
        "sendwatch_alerts_fired_total",
        "sendwatch_notifications_total",
    ):
        assert expected in used, f"dashboard has no panel on {expected}"


def test_dashboard_queries_parse_as_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    """Feed every panel query to promtool as a recording rule, so PromQL errors show up."""
    if shutil.which("promtool") is None:
        pytest.skip(PROMTOOL_MISSING)
    rules = []
    for panel in _all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "1m").replace("$service", ".*")
            rules.append(
                {"record": f"dashboard:panel_{panel['id']}:{target['refId']}", "expr": expr}
            )
    rules_file = tmp_path / "dashboard_rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(rules_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_uses_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    provisioned = _load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    source = provisioned["datasources"][0]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    for panel in _all_panels(dashboard["panels"]):
        if panel.get("type") == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
