"""The alerts service's view of KPI values: the latest observation per
(kpi, cycle, breakdown).  Rules (a later step) evaluate these; a snapshot replaces an
observation only if it is newer, so redelivered or reordered snapshots are harmless."""

from __future__ import annotations

from contracts.snapshots import KpiSnapshot

Key = tuple[str, str, str]


def latest_observations(
    stored_sequences: dict[Key, int], snapshots: list[KpiSnapshot]
) -> dict[Key, tuple[int, float | None]]:
    """Return the (sequence, value) to store for each key the snapshots make newer."""
    out: dict[Key, tuple[int, float | None]] = {}
    for snap in sorted(snapshots, key=lambda s: s.data.sequence):
        for v in snap.data.values:
            key = (v.kpi, v.cycle, v.breakdown)
            seen = out.get(key, (stored_sequences.get(key, -1), None))[0]
            if snap.data.sequence > seen:
                out[key] = (snap.data.sequence, v.value)
    return out
