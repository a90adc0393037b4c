"""How much mail the simulated county sends: the whole stack (Tansu, the four services,
the mail sink) with the simulator for a number of simulated days, then the mails counted
per recipient.  Compares escalation files (e.g. without and with quiet hours and
digests)::

    python -m cli.alerting --days 61 [--var-dir DIR]

(``SENDWATCH_ESCALATION_FILE`` chooses the escalation file.)  The counts are the mail
delivered (``mails``, the .eml files of the sink), and, from the same decisions, the
mail without quiet hours and daily digests (``without_quiet_hours_and_digests``).  The
alerts database is SQLite (the default), under ``--var-dir``.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from cli.stack import START_ORDER, Stack
from cli.tansu import die_with_parent, free_port


def _get(port: int, path: str) -> dict[str, Any]:
    r = httpx.get(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": "Bearer dev-alerts-ack-token"},
        timeout=30,
    )
    r.raise_for_status()
    return dict(r.json())


def _outbox(port: int) -> dict[str, Any]:
    return _get(port, "/v1/outbox?limit=1")


def without_holds(db: Path) -> dict[str, Any]:
    """The mail the same decisions give without quiet hours and daily digests: every
    outbox row on its own, except milestone slips decided together for one recipient,
    which went as one digest before (same stream, same decisions: holds change only
    when mail is delivered)."""
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT recipient, decided_at, payload, channel FROM alerts_outbox"
    ).fetchall()
    mails: set[tuple[Any, ...]] = set()
    to: Counter[str] = Counter()
    for i, (recipient, decided, payload, channel) in enumerate(rows):
        if channel != "email":
            continue
        rule = json.loads(payload).get("rule")
        key = (recipient, decided) if rule in ("MS1", "MS2") else (i,)
        if key not in mails:
            mails.add(key)
            to[recipient] += 1
    return {"mails": sum(to.values()), "by_recipient": dict(to.most_common())}


def count_mail(
    var_dir: Path, days: int, seed: int = 42, speed: float = 172800.0, start: str = "2026-04-01"
) -> dict[str, Any]:
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    ports = {n: free_port() for n in ("ingest", "timeliness", "alerts", "reporting")}
    stack = Stack(var_dir=var_dir, ports=ports)
    try:
        stack.start_broker(None)
        stack.start_mailsink()
        for name in START_ORDER:
            stack.start_service(name)
        stack.wait_healthy(timeout=180)
        log = open(var_dir / "logs" / "simulator.log", "ab")  # noqa: SIM115
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "simulate",
                "--url",
                f"http://127.0.0.1:{stack.ports['ingest']}",
                "--seed",
                str(seed),
                "--speed",
                str(speed),
                "--start",
                start,
                "--days",
                str(days),
                "--nhs-key",
                "dev-nhs-community-key",
                "--placements",
                "--quiet",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=stack.env(),
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        stack.children["simulator"] = sim
        sim.wait()
        # timeliness and alerts catch up with the simulated clock ...
        end = (date.fromisoformat(start) + timedelta(days=days - 1)).isoformat()
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            status = _get(stack.ports["alerts"], "/v1/status")
            if str(status.get("now") or "") >= end:
                break
            time.sleep(5)
        # ... and the relay drains what is due (held mail stays held)
        last, steady = None, 0
        while steady < 5:
            time.sleep(3)
            box = _outbox(stack.ports["alerts"])
            now = (box["total"], json.dumps(box["pending"], sort_keys=True))
            steady = steady + 1 if now == last else 0
            last = now
        box = _outbox(stack.ports["alerts"])
    finally:
        stack.stop()
    to: Counter[str] = Counter()
    for path in sorted((var_dir / "mail").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to[str(msg["To"])] += 1
    held = {
        str(r[0]): int(r[1])
        for r in sqlite3.connect(var_dir / "alerts.db").execute(
            "SELECT hold_reason, count(*) FROM alerts_outbox WHERE status = 'pending' "
            "GROUP BY hold_reason"
        )
    }
    return {
        "without_quiet_hours_and_digests": without_holds(var_dir / "alerts.db"),
        "held_at_the_end": held,
        "days": days,
        "mails": sum(to.values()),
        "by_recipient": dict(to.most_common()),
        "outbox_rows": box["total"],
        "pending": box["pending"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--speed", type=float, default=43200.0, help="simulated seconds per real second"
    )
    parser.add_argument("--var-dir", type=Path, default=Path("var/alerting"))
    args = parser.parse_args(argv)
    print(json.dumps(count_mail(args.var_dir, args.days, args.seed, args.speed), indent=2))


if __name__ == "__main__":
    main()
