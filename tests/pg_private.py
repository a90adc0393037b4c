"""A private PostgreSQL cluster for outage tests: ``initdb`` into a temporary directory,
``pg_ctl`` on a free loopback port, so a test can stop and start *its* server without
touching the one other tests share.

Under root (PostgreSQL refuses to run as root) the server runs as the ``postgres``
user through ``runuser``.  Where no PostgreSQL binaries are installed the test skips,
saying why (under ``CI`` it fails instead).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cli.tansu import free_port


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if found:
        return Path(found[0]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    def __init__(self, base: Path | None = None) -> None:
        bindir = _bindir()
        if bindir is None:
            if os.environ.get("CI"):
                raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bin = bindir
        # Its own directory under the system temp dir: the postgres user must reach it
        # (pytest's per-user temp dirs are private to the user running the tests).
        self.base = Path(tempfile.mkdtemp(prefix="sendwatch-pg-", dir=base))
        self.data = self.base / "pgdata"
        self.socket_dir = self.base / "pgsock"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/sendwatch"

    def init(self) -> PrivatePostgres:
        self.socket_dir.mkdir(exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.base, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "sendwatch",
        )
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.socket_dir} "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.base / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (like a service restart); ``immediate`` is a crash."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return done.returncode == 0

    def destroy(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")
        time.sleep(0.2)
        shutil.rmtree(self.base, ignore_errors=True)
