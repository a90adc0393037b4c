"""SEN2 import pipeline: batches of whole persons, concurrent posting in file order."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from services.ingest.sources.sen2.events import Sen2Conversion, Sen2Event
from services.ingest.sources.sen2.importer import _batches, import_sen2
from services.ingest.sources.sen2.pseudonymise import Pseudonymiser
from services.ingest.sources.sen2.synthetic import generate_sen2_xml
from tests.unit.test_sen2 import FILE, KEY, FakeStack


def _events(person: int, n: int) -> list[Sen2Event]:
    return [Sen2Event(person, 1, {"id": f"{person}-{i}"}) for i in range(n)]


def test_batches_hold_whole_persons_in_order() -> None:
    items = [*_events(1, 3), *_events(2, 4), *_events(3, 2), *_events(4, 1)]
    batches = list(_batches(iter(items), 5))
    assert [[e.event["id"] for e in b] for b in batches] == [
        ["1-0", "1-1", "1-2"],
        ["2-0", "2-1", "2-2", "2-3"],
        ["3-0", "3-1", "4-0"],
    ]
    # A person with more events than a batch is split (the only split), in order.
    big = list(_batches(iter([*_events(1, 2), *_events(2, 7), *_events(3, 1)]), 3))
    assert [len(b) for b in big] == [2, 3, 3, 2]
    assert [e for b in big for e in b] == [*_events(1, 2), *_events(2, 7), *_events(3, 1)]
    assert list(_batches(iter([]), 3)) == []


def test_batches_of_a_real_file_never_split_a_case() -> None:
    xml, expected = generate_sen2_xml(seed=31, persons=400)
    conversion = Sen2Conversion(xml, Pseudonymiser(KEY), file_name=FILE)
    seen: dict[str, int] = {}
    total = 0
    for n, batch in enumerate(_batches(iter(conversion), 97)):
        assert 0 < len(batch) <= 97
        total += len(batch)
        for item in batch:
            assert seen.setdefault(item.event["subject"], n) == n
    assert total == expected.events


@pytest.mark.parametrize("in_flight", [1, 4])
def test_results_are_recorded_in_file_order_whatever_the_concurrency(
    tmp_path: Path, in_flight: int
) -> None:
    xml, expected = generate_sen2_xml(seed=32, persons=300)
    path = tmp_path / FILE
    path.write_bytes(xml)
    stack = FakeStack(apply_after_polls=0)
    stack.reject_type = "ehc.plan.final-issued"
    with httpx.Client(transport=httpx.MockTransport(stack)) as client:
        summary = import_sen2(
            path,
            "http://ingest",
            "dev-sen2-import-key",
            key=KEY,
            client=client,
            batch_size=50,
            in_flight=in_flight,
        )
    assert summary.accepted + summary.rejected == expected.events
    assert summary.rejected == expected.events_by_type["ehc.plan.final-issued"]
    # Rejections are listed in file order (person, then request), as with one in flight.
    positions = [(p.person, p.request) for p in summary.rejections]
    assert positions == sorted(positions)
    if in_flight == 1:
        assert stack.most_concurrent == 1
    else:
        assert 2 <= stack.most_concurrent <= in_flight


def test_in_flight_must_be_positive(tmp_path: Path) -> None:
    xml, _ = generate_sen2_xml(seed=2, persons=5)
    path = tmp_path / FILE
    path.write_bytes(xml)
    with pytest.raises(ValueError, match="in_flight"):
        import_sen2(path, "http://ingest", "k", key=KEY, in_flight=0)


def test_waiting_asks_about_the_newest_ids_then_checks_every_id_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("services.ingest.sources.sen2.importer.time.sleep", lambda s: None)
    xml, expected = generate_sen2_xml(seed=33, persons=900)
    assert expected.events > 2500
    path = tmp_path / FILE
    path.write_bytes(xml)
    stack = FakeStack(apply_after_polls=20)
    with httpx.Client(transport=httpx.MockTransport(stack)) as client:
        summary = import_sen2(
            path,
            "http://ingest",
            "dev-sen2-import-key",
            key=KEY,
            client=client,
            wait=True,
            timeliness_url="http://timeliness",
            poll_interval=0.0,
        )
    assert summary.wait is not None and summary.wait.complete
    assert summary.wait.applied == expected.events
    # 20 polls of one chunk while nothing is applied, then the tail and one full pass.
    assert stack.applied_polls == 20 + 1 + -(-expected.events // 1000)
