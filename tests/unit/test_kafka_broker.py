"""The local Apache Kafka runner: its configuration, and what it says when Java, Maven or
the jars are missing (no broker is started here)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cli import kafka
from cli.kafka import KafkaCluster, KafkaNode, KafkaUnavailable


def _cluster(tmp_path: Path, n: int) -> KafkaCluster:
    nodes = [
        KafkaNode(
            node_id=i + 1,
            port=20000 + 2 * i,
            controller_port=20001 + 2 * i,
            log_dir=tmp_path / f"node-{i + 1}",
        )
        for i in range(n)
    ]
    return KafkaCluster(base_dir=tmp_path, nodes=nodes)


def _props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_three_nodes_replicate_three_times_with_two_in_sync(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path, 3)
    for node in cluster.nodes:
        cluster._write_config(node)
    props = _props(cluster.nodes[1].config_path)
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:20001,2@127.0.0.1:20003,3@127.0.0.1:20005"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:20002,CONTROLLER://127.0.0.1:20003"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["log.dirs"] == str(tmp_path / "node-2" / "data")
    assert cluster.bootstrap == "127.0.0.1:20000,127.0.0.1:20002,127.0.0.1:20004"


def test_one_node_cannot_replicate(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path, 1)
    cluster._write_config(cluster.nodes[0])
    props = _props(cluster.nodes[0].config_path)
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert props["offsets.topic.replication.factor"] == "1"


def test_pinned_version_is_kafka_4(tmp_path: Path) -> None:
    assert kafka.kafka_version().split(".")[0] == "4"


def test_missing_java_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(kafka.shutil, "which", lambda _name: None)
    with pytest.raises(KafkaUnavailable, match="Java 17"):
        kafka.check_available()


def test_missing_jars_without_maven_says_how_to_get_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SENDWATCH_KAFKA_LIB", str(tmp_path / "lib"))
    monkeypatch.setattr(kafka.shutil, "which", lambda name: None if name == "mvn" else "/x")
    with pytest.raises(KafkaUnavailable, match="Maven"):
        kafka.fetch_jars(lambda _s: None)


def test_start_refuses_other_node_counts(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        kafka.start_kafka(2, base_dir=tmp_path)


def test_cluster_id_never_reads_as_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter([uuid.UUID(bytes=b"\xf8" + b"\x01" * 15), uuid.UUID(bytes=b"\x01" * 16)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(ids))
    found = kafka._cluster_id()
    assert found == "AQEBAQEBAQEBAQEBAQEBAQ" and not found.startswith("-")
