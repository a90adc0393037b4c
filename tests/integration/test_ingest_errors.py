"""Every kind of bad input gets its documented HTTP error or dead-letter entry, and the
valid events in the same batch are still accepted."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import AUTH, OPERATIONAL, case_event, get_json, read_topic, wait_for

DLQ = "sendwatch.dlq.v1"


@pytest.fixture
def ingest(stack_factory, broker, monkeypatch):
    monkeypatch.setenv("SENDWATCH_INGEST_MAX_BODY_BYTES", "200000")
    stack = stack_factory("timeliness", "ingest")
    return f"http://127.0.0.1:{stack.ports['ingest']}", stack


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_input_is_reported_and_dead_lettered(ingest, broker) -> None:
    url, stack = ingest
    post = lambda body, headers=AUTH, **kw: httpx.post(  # noqa: E731
        f"{url}/v1/events", headers={**headers, **kw.pop("extra", {})}, **body, timeout=30
    )

    good = [case_event(1), case_event(2)]
    unknown_field = {**case_event(3), "colour": "red"}
    personal = case_event(4, data={"date_of_birth": "2015-02-03"})
    upn_subject = {**case_event(5), "subject": "case-A123456789012"}
    postcode = case_event(6, data={"locality": "SY1 1AA"})
    wrong_type = {**case_event(7), "type": "ehc.request.teleported"}
    wrong_source = case_event(8, source="nhs-community")
    not_object = 42
    bad_value = case_event(9, data={"age_band": "ancient"})

    batch = [
        good[0],
        unknown_field,
        personal,
        upn_subject,
        postcode,
        wrong_type,
        wrong_source,
        not_object,
        bad_value,
        good[1],
    ]
    r = post({"json": batch})
    assert r.status_code == 207, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["rejected"] == 8
    results = body["results"]
    assert [x["status"] for x in results] == ["accepted"] + ["rejected"] * 8 + ["accepted"]
    reasons = [(x.get("reason"), x.get("field")) for x in results[1:9]]
    assert reasons == [
        ("unknown_field", "colour"),
        ("personal_data", "data.date_of_birth"),
        ("personal_data", "subject"),
        ("personal_data", "data.locality"),
        ("unknown_type", "type"),
        ("forbidden_source", "source"),
        ("not_an_object", None),
        ("invalid_value", "data.age_band"),
    ]

    # Malformed JSON body: 400, and a DLQ entry.
    r = post({"content": b'[{"id": "evt-broken",'}, extra={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"

    # Authentication and authorisation.
    assert post({"json": good}, headers={}).status_code == 401
    assert post({"json": good}, headers={"Authorization": "Bearer nope"}).status_code == 401
    r = post({"json": [case_event(10, source="placements")]})
    assert r.status_code == 403 and r.json()["results"][0]["reason"] == "forbidden_source"

    # Oversized body and oversized batch.
    big = [case_event(100 + i) for i in range(1000)]
    assert post({"json": big}).status_code == 413

    # The valid events went through to the consumer; nothing else did.
    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 2
        )
    )

    # Dead letters: 8 from the batch, 1 malformed body, 1 from the 403 request.
    letters = read_topic(broker.bootstrap, DLQ, expect=10)
    assert len(letters) == 10
    by_reason = sorted(d["data"]["reason"] for d in letters)
    assert by_reason == sorted(
        [
            "unknown_field",
            "personal_data",
            "personal_data",
            "personal_data",
            "unknown_type",
            "forbidden_source",
            "forbidden_source",
            "not_an_object",
            "invalid_value",
            "malformed_json",
        ]
    )
    for d in letters:
        assert d["type"] == "sendwatch.dead-letter" and d["source"] == "ingest"
        assert "payload" not in d["data"] and len(d["data"]["payload_sha256"]) == 64
    raw = repr(letters)
    for secret in ("2015-02-03", "A123456789012", "SY1 1AA"):
        assert secret not in raw


def test_batch_limit(stack_factory, monkeypatch) -> None:
    monkeypatch.setenv("SENDWATCH_INGEST_MAX_BATCH", "5")
    stack = stack_factory("ingest")
    r = httpx.post(
        f"http://127.0.0.1:{stack.ports['ingest']}/v1/events",
        json=[case_event(i) for i in range(6)],
        headers=AUTH,
    )
    assert r.status_code == 413 and r.json()["error"] == "batch_too_large"


NAME = "Jane Smithson"  # a name: no pattern recognises it, so nothing may echo it
NHS = "943 476 5919"  # synthetic, valid by the modulus-11 check
POSTCODE = "SY3 8HQ"
SECRETS = ("Smithson", NHS, NHS.replace(" ", ""), POSTCODE, POSTCODE.lower())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_posted_values_are_never_echoed(ingest, broker) -> None:
    """A name, an NHS number or a postcode in any free-text position of a rejected post
    appears neither in the HTTP answer, nor in the dead-letter topic, nor in any log."""
    url, stack = ingest
    answers: list[str] = []

    def post(headers: dict[str, str] = AUTH, **kw) -> httpx.Response:
        r = httpx.post(f"{url}/v1/events", headers=headers, timeout=30, **kw)
        answers.append(r.text)
        return r

    good = case_event(1)
    batch = [
        good,
        {**case_event(2), "colour": NAME},  # a value in an unknown field
        {**case_event(3), NAME: "x"},  # an unknown field named with free text
        {**case_event(4), "type": NAME},  # unknown_type
        {**case_event(5), "source": NAME},  # forbidden_source
        case_event(6, data={"age_band": NAME}),  # invalid_value
        case_event(7, data={"locality": "jane-smithson"}),  # unknown_locality
        {**case_event(8), "time": "9999-12-31T00:00:00Z", "colour": NAME},
        {**case_event(9), "id": f"evt-{NHS.replace(' ', '')}"},  # personal data in the id
        {**case_event(10), "subject": f"case-{POSTCODE.replace(' ', '').lower()}"},
        case_event(11, data={"notes": f"{NAME}, {NHS}, {POSTCODE}"}),
        NAME,  # not an object
    ]
    r = post(json=batch)
    assert r.status_code == 207, r.text
    results = r.json()["results"]
    assert [(x["status"], x.get("reason"), x.get("field")) for x in results] == [
        ("accepted", None, None),
        ("rejected", "unknown_field", "colour"),
        ("rejected", "unknown_field", "<unnamed>"),
        ("rejected", "unknown_type", "type"),
        ("rejected", "forbidden_source", "source"),
        ("rejected", "invalid_value", "data.age_band"),
        ("rejected", "unknown_locality", "data.locality"),
        ("rejected", "implausible_time", "time"),
        ("rejected", "personal_data", "id"),
        ("rejected", "personal_data", "subject"),
        ("rejected", "personal_data", "data.notes"),
        ("rejected", "not_an_object", None),
    ]
    assert results[8]["id"] is None  # the id held an NHS number: not repeated
    body = f'[{{"id": "evt-broken", "note": "{NAME} {NHS} {POSTCODE}",'.encode()
    r = post(content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"

    wait_for(
        lambda: (
            get_json(stack.ports["timeliness"], "/v1/caseload", OPERATIONAL)["events_applied"] == 1
        )
    )
    letters = read_topic(broker.bootstrap, DLQ, expect=12)
    assert len(letters) == 12
    blobs = [repr(letters), *answers]
    for log in (stack.var_dir / "logs").glob("*.log"):
        blobs.append(log.read_text(errors="replace"))
    text = "\n".join(blobs)
    assert [s for s in SECRETS if s in text] == []
