from alembic import context

from sendwatch.db import run_migrations_online

run_migrations_online(context)
