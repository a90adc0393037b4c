"""Database adapter: engines for SQLite (default) or PostgreSQL, and Alembic migrations.

Each service owns its tables (prefixed with the service name) and its own Alembic
history (``services/<service>/migrations``, version table ``alembic_version_<service>``),
so the services can share one PostgreSQL database or use one SQLite file each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def normalise_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def migrate(service: str, engine: Engine) -> None:
    """Bring the service's tables to the latest migration."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["version_table"] = f"alembic_version_{service}"
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def run_migrations_online(context: Any) -> None:
    """Shared body of every service's ``migrations/env.py``."""
    cfg = context.config
    connection = cfg.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=cfg.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
