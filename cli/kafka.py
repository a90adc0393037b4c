"""Local Apache Kafka (KRaft) cluster on loopback, from the jars on Maven Central.

``sendwatch broker --engine kafka [--nodes 1|3]``, ``sendwatch up --broker kafka``,
``sendwatch bench --broker kafka`` and the delivery-guarantee tests use it.  Each node is
a combined broker + controller (``process.roles=broker,controller``) on two free loopback
ports, with its log directory under ``var/kafka/`` (or a test's temp dir), so stopping and
starting a cluster on the same directory keeps its data.  Three nodes give the project's
topics replication factor 3 and ``min.insync.replicas=2``.

The jars come from ``deploy/kafka/pom.xml`` (one pinned Kafka 4.x version, the same as
the ``apache/kafka`` image in ``docker-compose.yml``), fetched with Maven into the
git-ignored ``deploy/kafka/lib/`` on first use.  Java 17+ and Maven are needed; without
them this module says so plainly, and the tests that need it skip.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cli.tansu import die_with_parent, free_port, port_is_open, wait_for_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "deploy" / "kafka" / "pom.xml"


class KafkaUnavailable(RuntimeError):
    """Java, Maven or the jars are missing: the message says what to install."""


def kafka_version() -> str:
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert found, f"no <kafka.version> in {POM}"
    return found.group(1)


def lib_dir() -> Path:
    return Path(os.environ.get("SENDWATCH_KAFKA_LIB") or POM.parent / "lib")


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise KafkaUnavailable(
            "Apache Kafka needs Java 17 or later, and no `java` is on PATH (or JAVA_HOME). "
            "Install it, e.g. `apt-get install openjdk-17-jre-headless`, or use Tansu "
            "(`sendwatch up` without --broker kafka needs only Python)."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    major = re.search(r'version "(\d+)', out)
    if major and int(major.group(1)) < 17:
        raise KafkaUnavailable(
            f"Apache Kafka 4 needs Java 17 or later; found: {out.splitlines()[0]}"
        )
    return java


def jars_present() -> bool:
    lib = lib_dir()
    return lib.is_dir() and any(lib.glob(f"kafka_2.13-{kafka_version()}.jar"))


def fetch_jars(echo: Callable[[str], object] = print) -> Path:
    """``mvn dependency:copy-dependencies`` into ``deploy/kafka/lib``, showing progress."""
    lib = lib_dir()
    if jars_present():
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaUnavailable(
            f"Apache Kafka's jars are not in {lib} and Maven is not installed to fetch them. "
            "Install Maven (`apt-get install maven`) and Java 17, then run "
            "`sendwatch broker --engine kafka` once (it fetches about 55 MB from Maven Central)."
        )
    echo(f"Fetching Apache Kafka {kafka_version()} jars from Maven Central into {lib} ...")
    partial = lib.with_name(lib.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    downloaded = 0
    tail: list[str] = []
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if line.startswith("Downloaded from"):
            downloaded += 1
            if downloaded % 10 == 0:
                echo(f"  ... {downloaded} files downloaded")
    if proc.wait() != 0:
        raise KafkaUnavailable("Maven could not fetch Apache Kafka's jars:\n" + "\n".join(tail))
    shutil.rmtree(lib, ignore_errors=True)
    partial.rename(lib)
    echo(f"  done: {len(list(lib.glob('*.jar')))} jars in {lib}")
    return lib


def check_available() -> None:
    """Raise KafkaUnavailable unless Java and the jars (or Maven to fetch them) exist."""
    _java()
    if not jars_present() and not shutil.which("mvn"):
        fetch_jars()  # raises with the install hint


def _cluster_id() -> str:
    """A random cluster id, as Kafka makes them: never one that starts with "-", which
    the storage tool would read as an option (1 in 64 of them did)."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.log_dir / "server.properties"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class KafkaCluster:
    """A running KRaft cluster; ``bootstrap`` lists every node."""

    base_dir: Path
    nodes: list[KafkaNode]
    log_file: Path | None = None
    engine: str = "kafka"
    supports_idempotence: bool = True
    _java: str = field(default="java", repr=False)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, len(self.nodes))

    def _classpath(self) -> str:
        return str(lib_dir() / "*")

    def _write_config(self, node: KafkaNode) -> None:
        n = len(self.nodes)
        rf = self.replication_factor
        min_isr = 2 if rf >= 3 else 1
        voters = ",".join(f"{m.node_id}@127.0.0.1:{m.controller_port}" for m in self.nodes)
        lines = {
            "process.roles": "broker,controller",
            "node.id": node.node_id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.log_dir / "data"),
            "num.partitions": 1,
            "default.replication.factor": rf,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": 12,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min_isr,
            "transaction.state.log.num.partitions": 6,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": min_isr,
            "unclean.leader.election.enable": "false",
            # Tests and local use: no delay before the first rebalance.
            "group.initial.rebalance.delay.ms": 0,
            # A killed node is noticed within seconds, not the default 9 s.
            "broker.session.timeout.ms": 6000 if n > 1 else 9000,
            "broker.heartbeat.interval.ms": 1000,
            "controller.quorum.election.timeout.ms": 1000,
            "controller.quorum.fetch.timeout.ms": 2000,
            "replica.lag.time.max.ms": 10000,
            "log.retention.hours": 168,
            "log.segment.bytes": 64 * 1024 * 1024,
        }
        node.log_dir.mkdir(parents=True, exist_ok=True)
        node.config_path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))

    def _format(self, node: KafkaNode, cluster_id: str) -> None:
        if (node.log_dir / "data" / "meta.properties").exists():
            return  # restarting on the same log directory keeps its data
        done = subprocess.run(
            [
                self._java,
                "-cp",
                self._classpath(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(node.config_path),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise KafkaUnavailable(f"formatting Kafka storage failed:\n{done.stdout}{done.stderr}")

    def start_node(self, node: KafkaNode) -> None:
        if node.running:
            return
        if port_is_open(node.port) or port_is_open(node.controller_port):
            raise RuntimeError(f"ports of Kafka node {node.node_id} are in use")
        heap = os.environ.get("SENDWATCH_KAFKA_HEAP", "-Xms128m -Xmx768m")
        jvm = os.environ.get("SENDWATCH_KAFKA_JVM_OPTS", "-XX:+UseG1GC -XX:MaxGCPauseMillis=20")
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        node.process = subprocess.Popen(
            [
                self._java,
                *heap.split(),
                *jvm.split(),
                "-Djava.awt.headless=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp",
                self._classpath(),
                "kafka.Kafka",
                str(node.config_path),
            ],
            stdout=out,
            stderr=subprocess.STDOUT if self.log_file else subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            # out of the terminal's process group: Ctrl-C reaches `sendwatch up`, which
            # stops the services first and the broker last
            start_new_session=True,
        )

    def start(self, timeout: float = 90.0) -> None:
        cluster_id = _cluster_id()
        for node in self.nodes:
            self._write_config(node)
            self._format(node, cluster_id)
        for node in self.nodes:
            self.start_node(node)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 90.0, nodes: int | None = None) -> None:
        """Until every running node listens and the cluster reports them all as brokers."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if not node.running:
                continue
            try:
                wait_for_port(node.port, timeout=max(1.0, deadline - time.monotonic()))
            except TimeoutError:
                raise TimeoutError(
                    f"Kafka node {node.node_id} did not listen on {node.port}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                ) from None
        want = nodes if nodes is not None else sum(1 for n in self.nodes if n.running)
        _run(_wait_brokers(self.bootstrap, want, deadline))

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL: no clean shutdown, no leadership hand-over."""
        node = self.node(node_id)
        if node.process is not None and node.running:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=30)

    def stop_node(self, node_id: int, timeout: float = 60.0) -> None:
        node = self.node(node_id)
        if node.process is None or not node.running:
            return
        node.process.send_signal(signal.SIGTERM)
        try:
            node.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=10)

    def restart_node(self, node_id: int, timeout: float = 90.0) -> None:
        self.start_node(self.node(node_id))
        self.wait_ready(timeout)

    def stop(self, graceful: bool = True) -> None:
        """SIGTERM (a controlled shutdown) or, for throw-away test clusters, SIGKILL."""
        for node in self.nodes:
            if node.process is not None and node.running:
                node.process.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)

    def leader_of(self, topic: str, partition: int = 0) -> int:
        return _run(_leader(self.bootstrap, topic, partition))

    def __enter__(self) -> KafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also from code already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _wait_brokers(bootstrap: str, want: int, deadline: float) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    last: object = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            info = await admin.describe_cluster()
            if len(info.get("brokers", [])) >= want and info.get("controller_id", -1) >= 0:
                return
            last = info
        except (KafkaError, OSError) as exc:
            last = exc
        finally:
            await admin.close()
        await asyncio.sleep(0.3)
    raise TimeoutError(f"Kafka cluster at {bootstrap} not ready ({want} brokers); last: {last}")


async def _leader(bootstrap: str, topic: str, partition: int) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for t in described:
        for p in t["partitions"]:
            if p["partition"] == partition:
                return int(p["leader"])
    raise KeyError(f"{topic}[{partition}] not found")


def start_kafka(
    nodes: int = 1,
    base_dir: Path | None = None,
    log_file: Path | None = None,
    ports: list[int] | None = None,
    echo: Callable[[str], object] = lambda s: print(s, file=sys.stderr),
    timeout: float = 120.0,
) -> KafkaCluster:
    """Start (or restart, when ``base_dir`` holds a formatted cluster) ``nodes`` nodes.

    Ports are kept in ``base_dir/ports`` so a restart on the same directory listens where
    the data says the brokers were.
    """
    if nodes not in (1, 3):
        raise ValueError("--nodes must be 1 or 3")
    java = _java()
    fetch_jars(echo)
    base_dir = base_dir or Path("var") / "kafka"
    base_dir.mkdir(parents=True, exist_ok=True)
    saved = base_dir / "ports"
    if ports is None and saved.exists():
        recorded = [int(p) for p in saved.read_text().split()]
        if len(recorded) == 2 * nodes and not any(port_is_open(p) for p in recorded):
            ports = recorded
    if ports is None:
        ports = []
        while len(ports) < 2 * nodes:
            p = free_port()
            if p not in ports:
                ports.append(p)
    saved.write_text(" ".join(str(p) for p in ports))
    cluster = KafkaCluster(
        base_dir=base_dir,
        nodes=[
            KafkaNode(
                node_id=i + 1,
                port=ports[2 * i],
                controller_port=ports[2 * i + 1],
                log_dir=base_dir / f"node-{i + 1}",
            )
            for i in range(nodes)
        ],
        log_file=log_file,
        _java=java,
    )
    try:
        cluster.start(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
