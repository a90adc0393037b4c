"""Acknowledge from the mail: every alert mail carries signed, expiring links to view
and to acknowledge.  GET shows a confirmation page and changes nothing, HEAD answers
200, POST acknowledges, a second use says who acknowledged and when, expired and
changed links are refused with a page saying so, and all of it is audited.  A real
alerts process, a real broker and the mail sink."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cli.mailsink import MailSink
from services.alerts.adapters.links import Claims, Signer
from tests.helpers import wait_for
from tests.integration.test_alerts import (  # noqa: F401 - fixtures
    OWNER,
    WS3,
    Feed,
    alerts,
    api,
    closed,
    fast_notify,
    mail_to,
)
from tests.integration.test_alerts import sink as sink  # noqa: F401 - the fixture


def links(msg: object) -> tuple[str, str]:
    text = msg.get_content()  # type: ignore[attr-defined]
    view = re.search(r"View the alert: (\S+)", text)
    ack = re.search(r"Acknowledge it: (\S+)", text)
    assert view and ack, text
    return view.group(1), ack.group(1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_signed_mail_links_view_confirm_acknowledge_and_refuse(
    stack_factory, broker, sink: MailSink
) -> None:
    stack = stack_factory("alerts")
    port = stack.ports["alerts"]
    feed = Feed(broker.bootstrap)
    feed.snapshot("2026-06-11", closed("2026-05", 40.0))
    wait_for(lambda: mail_to(sink, OWNER), timeout=30)
    feed.snapshot("2026-07-11", closed("2026-06", 45.0))
    wait_for(lambda: mail_to(sink, WS3), timeout=30)
    view, ack = links(mail_to(sink, WS3)[0])
    assert view.startswith(f"http://127.0.0.1:{port}/mail/") and view != ack
    r11 = alerts(port, rule="R11")[0]

    def status() -> str:
        return str(api(port, f"/v1/alerts/{r11['id']}")["status"])

    # a mail scanner: HEAD and GET on both links change nothing
    assert httpx.head(ack, timeout=10).status_code == 200
    page = httpx.get(ack, timeout=10)
    assert page.status_code == 200 and "Acknowledge this alert" in page.text
    assert "<form method='post'" in page.text
    assert page.headers["cache-control"] == "no-store"
    shown = httpx.get(view, timeout=10)
    assert shown.status_code == 200 and "<form" not in shown.text
    assert r11["title"] in shown.text
    assert status() == "open"
    assert httpx.post(view, timeout=10).status_code == 405  # a view link never acknowledges
    assert status() == "open"

    # changed, cut short and expired links are refused, with a page saying why
    body, _, mac = ack.rpartition("/")[2].partition(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    tampered = f"http://127.0.0.1:{port}/mail/{body}.{flipped}"
    for bad in (tampered, ack[:-10]):
        refused = httpx.post(bad, timeout=10)
        assert refused.status_code == 403 and "This link is not valid" in refused.text
    signer = Signer("dev-alerts-link-secret", base_url=f"http://127.0.0.1:{port}")
    old = Claims(r11["id"], 1, WS3, "ack", datetime.now(UTC) - timedelta(minutes=1))
    expired = f"http://127.0.0.1:{port}/mail/{signer.token(old)}"
    for method in (httpx.get, httpx.post):
        gone = method(expired, timeout=10)
        assert gone.status_code == 410 and "This link has expired" in gone.text
    forged = Signer("not-the-configured-secret").token(
        Claims(r11["id"], 1, WS3, "ack", datetime.now(UTC) + timedelta(days=1))
    )
    assert httpx.post(f"http://127.0.0.1:{port}/mail/{forged}", timeout=10).status_code == 403
    assert status() == "open"

    # POST acknowledges, as the recipient the mail went to
    done = httpx.post(ack, timeout=10)
    assert done.status_code == 200 and "Acknowledged by" in done.text
    detail = api(port, f"/v1/alerts/{r11['id']}")
    assert detail["status"] == "acknowledged"
    assert detail["acknowledged_by"] == f"{WS3} (mail link)"
    again = httpx.post(ack, timeout=10)
    assert again.status_code == 200
    expected = f"already acknowledged by {detail['acknowledged_by']} at {detail['acknowledged_at']}"
    assert expected in again.text
    assert expected in httpx.get(ack, timeout=10).text

    kinds = [e["kind"] for e in api(port, f"/v1/alerts/{r11['id']}")["timeline"]]
    assert kinds.count("acknowledged") == 1
    assert kinds.count("link_opened") >= 3  # the GETs: ack page, view page, second use
    assert kinds.count("link_used_again") == 1
    assert kinds.count("link_refused") == 2  # the expired GET and POST (known alert)
