"""The reporting API (JSON and CSV; OpenAPI at ``/docs``).

Roles (``Authorization: Bearer <token>``, tokens in ``contracts/tokens.yaml``):

* no token: the public view, the same suppressed aggregates a board member sees;
* ``board``: suppressed aggregates, the insight summary, the quarterly return;
* ``operational``: exact figures, cases at risk, the DfE-layout files;
* ``admin``: everything.

Bad input is a 422 with a message saying what is wrong; an unknown token is a 401; a
role that may not see something is a 403; a service reporting depends on that does not
answer is a 503.  Never a 500.  Each module holds a module-level ``router``.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every API router, in the order they are matched."""
    from services.reporting.api import cases, exports, kpis, reports, status

    return [status.router, kpis.router, cases.router, exports.router, reports.router]
