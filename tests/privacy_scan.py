"""The privacy scan: is any personal value a test posted or imported anywhere the system
keeps data?  Every topic of the catalogue (the dead-letter topic included), every
service log, and the databases: the SQLite files under the var dir, or a ``pg_dump`` of
the PostgreSQL database.

``leaks`` looks for each value case-insensitively, also without its spaces and hyphens
(``943 476 5919`` stored as ``9434765919``), and finds ten-digit numbers (NHS numbers)
and UPNs as whole tokens, so that a large set of planted values is checked in one pass over the
text and a timestamp or a digest that happens to contain the digits does not count.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import load_topics

_TEN_DIGITS = re.compile(r"(?<![0-9a-z.])\d{3}[ -]?\d{3}[ -]?\d{4}(?![0-9a-z.])")
_UPN = re.compile(r"(?<![0-9a-z])[a-z]\d{11}[0-9a-z](?![0-9a-z])")


@dataclass
class Stores:
    """What the system holds after a run, as text: each topic's records, the logs and
    the database contents."""

    topics: dict[str, list[Any]]
    logs: dict[str, str]  # file name -> text
    database: str

    def text(self, *extra: str) -> str:
        return "\n".join([repr(self.topics), *self.logs.values(), self.database, *extra])

    def leaks(self, values: Iterable[str]) -> dict[str, list[str]]:
        """Where each found value is: topic, log file or ``database``."""
        values = set(values)
        places = {
            **{f"topic {t}": repr(rows) for t, rows in self.topics.items()},
            **{f"log {name}": text for name, text in self.logs.items()},
            "database": self.database,
        }
        found = {where: leaks(values, text) for where, text in places.items()}
        return {where: hits for where, hits in found.items() if hits}


def collect(
    bootstrap: str,
    var_dir: Path,
    database_url: str | None,
    *,
    topics: Iterable[str] | None = None,
    timeout: float = 3,
) -> Stores:
    """Read every topic (or those named), every ``*.log`` under ``var_dir/logs`` and the
    database (``database_url`` None: the SQLite files under ``var_dir``)."""
    names = list(topics) if topics is not None else [t.name for t in load_topics().topics.values()]
    records = asyncio.run(_read_all(bootstrap, names, timeout))
    logs = {
        log.name: log.read_text(errors="replace")
        for log in sorted((var_dir / "logs").glob("*.log"))
    }
    if database_url is None:
        dbs = sorted(var_dir.glob("*.db*"))
        assert dbs, "no SQLite database under the var dir"
        database = "\n".join(db.read_bytes().decode("latin-1") for db in dbs)
    else:
        dump = subprocess.run(
            ["pg_dump", "--data-only", database_url.replace("postgresql+psycopg", "postgresql")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert dump.returncode == 0, dump.stderr
        database = dump.stdout
    return Stores(records, logs, database)


async def _read_all(bootstrap: str, topics: list[str], timeout: float) -> dict[str, list[dict]]:
    """Every record of ``topics`` up to their end offsets now (each topic's values as
    JSON where they are JSON, else as text)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, list[Any]] = {t: [] for t in topics}
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        todo = {tp for tp in parts if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 1) * 20
        while todo and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, rows in batch.items():
                for r in rows:
                    try:
                        out[tp.topic].append(json.loads(r.value))
                    except ValueError:
                        out[tp.topic].append(r.value.decode("utf-8", "replace"))
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
        assert not todo, f"topics not read to their end: {sorted(map(str, todo))}"
    finally:
        await consumer.stop()
    return out


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - a topic not yet known
    return consumer.partitions_for_topic(topic) or set()


def leaks(values: Iterable[str], text: str) -> list[str]:
    """The values that occur in ``text`` (see the module's note on matching)."""
    low = text.lower()
    squeezed = re.sub(r"[ -]", "", low)
    numbers = {re.sub(r"[ -]", "", m) for m in _TEN_DIGITS.findall(low)}
    upns = set(_UPN.findall(low))
    found = []
    for value in sorted(set(values)):
        v = value.lower()
        bare = re.sub(r"[ -]", "", v)
        if bare.isdigit() and len(bare) == 10:
            if bare in numbers:
                found.append(value)
        elif _UPN.fullmatch(v):
            if v in upns:
                found.append(value)
        elif v in low or (len(bare) >= 6 and bare in squeezed):
            found.append(value)
    return found
