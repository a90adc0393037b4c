"""The API fuzzer behind ``make fuzz`` and its bounded CI run.

Schemathesis generates requests from each running service's own OpenAPI document
(``/openapi.json``), valid and invalid (positive and negative generation), and sends each
with every credential the service knows: none, an unknown one, and each role's token (or,
at ingest, each source's key).  A share of the generated strings is replaced by planted
personal values (NHS numbers, UPNs, postcodes, emails, names), so the privacy scan that
follows can look for them in every topic, database and log.

Every response is checked: a 5xx is the failure that counts (the pass condition is
none), and the response must conform to the document (status code documented, content
type, body schema, headers).  Cases are spread over (service, operation, credential)
so that the total reaches the requested number; an operation whose inputs run out early
(no parameters) gives its share to the others.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contracts.privacy import EVENT_ID_KEYS, nhs_number_valid, upn_check_letter

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Who may call each service: role tokens (contracts/tokens.yaml) for the read APIs,
# source keys (contracts/sources.yaml) at ingest.  None: no Authorization header.
ROLE_TOKENS = (
    "dev-alerts-read-token",
    "dev-alerts-ack-token",
    "dev-board-token",
    "dev-operational-token",
    "dev-admin-token",
    "dev-timeliness-read-token",
    "dev-pmo-token",
    "dev-owner-token",
)
SOURCE_KEYS = tuple(
    f"dev-{s}-key"
    for s in (
        "case-management",
        "nhs-community",
        "placements",
        "sen2-import",
        "clock",
        "pmo",
        "experts-at-hand",
        "outcomes",
    )
)
UNKNOWN = "not-a-known-token-0000"


def credentials(service: str) -> list[str | None]:
    known = SOURCE_KEYS if service == "ingest" else ROLE_TOKENS
    return [None, UNKNOWN, *known]


# --- planted personal values (synthetic: valid check digits, invented people) ----------


def nhs_number(rng: random.Random) -> str:
    """A ten-digit number that passes the NHS modulus-11 check."""
    while True:
        # 4-9 first, as issued in England (and unlike a timestamp's 1)
        digits = f"{rng.randrange(4 * 10**9, 10**10)}"
        if nhs_number_valid(digits):
            return digits


def upn(rng: random.Random) -> str:
    """A UPN (letter, 11 digits, digit) with its valid CBDS check letter."""
    tail = "".join(str(rng.randrange(10)) for _ in range(12))
    letter = upn_check_letter("A" + tail)
    assert letter is not None
    return letter + tail


POSTCODES = ("SY1 1AA", "SY3 8HQ", "TF1 2NP", "SY11 4AB", "WV16 4AH", "LD7 1BN")
FORENAMES = ("Ottoline", "Bartholomew", "Philippa", "Evander", "Marigold", "Caspian")
SURNAMES = ("Quenby", "Ashworthy", "Pellingham", "Drayfield", "Winterbourne", "Holloway")


@dataclass
class Planted:
    """Every personal value the fuzzer posted, to look for afterwards."""

    values: set[str] = field(default_factory=set)

    def value(self, rng: random.Random, names: bool = True) -> str:
        """A planted value; a name only where ``names`` (see :meth:`plant`)."""
        kind = rng.randrange(6 if names else 4)
        if kind == 0:
            v = nhs_number(rng)
            self.values.add(v)
            return rng.choice([v, f"{v[:3]} {v[3:6]} {v[6:]}", f"nhs-{v}", f"p_{v}_x"])
        if kind == 1:
            v = upn(rng)
            self.values.add(v)
            return rng.choice([v, v.lower(), f"p_{v}_x"])
        if kind == 2:
            v = rng.choice(POSTCODES)
            self.values.update({v, v.replace(" ", "")})
            return rng.choice([v, v.lower(), v.replace(" ", "")])
        if kind == 3:
            v = f"{rng.choice(FORENAMES).lower()}.{rng.choice(SURNAMES).lower()}@fuzz-planted.test"
            self.values.add(v)
            return v
        first, last = rng.choice(FORENAMES), rng.choice(SURNAMES)
        self.values.update({f"{first} {last}", f"{first.lower()}-{last.lower()}"})
        return rng.choice([f"{first} {last}", f"person-{first.lower()}-{last.lower()}"])

    def plant(self, value: Any, rng: random.Random, share: float, key: str = "") -> Any:
        """``value`` with about ``share`` of its strings replaced by planted values.

        Names go only where the rules say a name is caught: pseudonymous ids (``subject``,
        ``person_id``, ``*_id``) and localities.  Event ids get the value checks only
        (sources stamp them with words and dates), and free text cannot be told from a
        name, so there the planted values are the ones the guard finds by value: NHS
        numbers, UPNs, postcodes and emails."""
        if isinstance(value, str):
            if rng.random() >= share:
                return value
            k = key.lower()
            names = k in ("subject", "person_id", "locality") or (
                k.endswith("_id") and k not in EVENT_ID_KEYS
            )
            return self.value(rng, names=names)
        if isinstance(value, dict):
            return {k: self.plant(v, rng, share, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.plant(v, rng, share, key) for v in value]
        return value


# --- running -------------------------------------------------------------------------


@dataclass
class ServiceTally:
    cases: int = 0
    server_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class Summary:
    services: dict[str, ServiceTally] = field(default_factory=lambda: defaultdict(ServiceTally))
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)  # first of each
    seconds: float = 0.0

    @property
    def cases(self) -> int:
        return sum(t.cases for t in self.services.values())

    @property
    def server_errors(self) -> int:
        return sum(t.server_errors for t in self.services.values())

    def table(self) -> str:
        lines = [f"{'service':<12}{'cases':>10}{'5xx':>8}  statuses"]
        for name, t in sorted(self.services.items()):
            statuses = " ".join(f"{k}:{v}" for k, v in sorted(t.statuses.items()))
            lines.append(f"{name:<12}{t.cases:>10}{t.server_errors:>8}  {statuses}")
        lines.append(f"{'all':<12}{self.cases:>10}{self.server_errors:>8}  in {self.seconds:.0f} s")
        lines.append(f"schema mismatches (distinct): {len(self.failures)}")
        for (svc, op, kind), msg in sorted(self.failures.items()):
            lines.append(f"  {svc} {op} [{kind}] {msg[:300]}")
        return "\n".join(lines)


def load_schema(base_url: str) -> Any:
    spec = httpx.get(f"{base_url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.base_url = base_url  # type: ignore[attr-defined]
    return schema


def operations(schema: Any) -> list[Any]:
    ops = []
    for result in schema.get_all_operations():
        ops.append(result.ok())
    return ops


def _kind(exc: BaseException) -> tuple[str, str]:
    parts = getattr(exc, "exceptions", None) or [exc]
    first = parts[0]
    return type(first).__name__, str(getattr(first, "title", "")) + ": " + str(first)[:400]


def fuzz_operation(
    service: str,
    base_url: str,
    op: Any,
    token: str | None,
    examples: int,
    mode: GenerationMode,
    planted: Planted,
    summary: Summary,
    rng: random.Random,
    session: requests.Session,
    share: float = 0.1,
) -> int:
    """Send up to ``examples`` generated cases of ``op``; returns how many were sent."""
    sent = 0
    tally = summary.services[service]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(case=op.as_strategy(generation_mode=mode), seed=st.integers(0, 2**31))
    def run(case: Any, seed: int) -> None:
        nonlocal sent
        local = random.Random(seed ^ rng.randrange(2**31))
        if case.body is not None and not isinstance(case.body, bytes | str):
            case.body = planted.plant(case.body, local, share)
        if case.query:
            case.query = planted.plant(dict(case.query), local, share)
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif case.headers and "authorization" in {k.lower() for k in case.headers}:
            headers.update({k: v for k, v in case.headers.items() if k.lower() == "authorization"})
        case.headers = headers
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as exc:
            # the header or URL could not be sent (not a server answer): not a case
            if isinstance(exc, requests.ConnectionError | requests.Timeout):
                tally.cases += 1
                sent += 1
                tally.server_errors += 1
                summary.failures.setdefault(
                    (service, op.label, "no answer"), f"{type(exc).__name__}: {exc}"[:300]
                )
            return
        except (ValueError, UnicodeError):
            return  # a value requests refuses to put on the wire
        sent += 1
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (FailureGroup, Exception) as exc:  # every failure is recorded, none stops us
            kind, message = _kind(exc)
            key = (service, op.label, kind)
            if key not in summary.failures:
                summary.failures[key] = f"{message} | {case.as_curl_command()[:400]}"

    with contextlib.suppress(Unsatisfiable):  # nothing (more) to generate in this mode
        run()
    return sent


# The operation that takes the richest input (every contract) gets this many times the
# share of any other.
WEIGHTS = {("ingest", "POST /v1/events"): 10}
PROGRESS_EVERY = 5000  # cases between progress lines (a long run shows where it is)


def _tasks(bases: dict[str, str], skip: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """(service, operation label, credential) for every operation and credential."""
    out = []
    for service, base in bases.items():
        for op in operations(load_schema(base)):
            if op.label not in skip:
                out += [(service, op.label, token) for token in credentials(service)]
    return out


def _work(
    bases: dict[str, str], tasks: list[tuple[str, str, str | None]], total: int, seed: int
) -> tuple[dict[str, ServiceTally], dict[tuple[str, str, str], str], set[str]]:
    """One worker: fuzz ``tasks`` until ``total`` cases (or every task is exhausted)."""
    planted = Planted()
    summary = Summary()
    rng = random.Random(seed)
    ops = {}
    for service, base in bases.items():
        for op in operations(load_schema(base)):
            ops[service, op.label] = op
    exhausted: set[int] = set()
    session = requests.Session()
    rounds = 0
    weights = [WEIGHTS.get((svc, label), 1) for svc, label, _ in tasks]
    started, reported = time.monotonic(), 0
    while summary.cases < total and len(exhausted) < len(tasks):
        live = [i for i in range(len(tasks)) if i not in exhausted]
        rng.shuffle(live)  # every service gets its turn, however small the total
        unit = max(1, (total - summary.cases) // sum(weights[i] for i in live))
        mode = GenerationMode.POSITIVE if rounds % 2 == 0 else GenerationMode.NEGATIVE
        for i in live:
            if summary.cases >= total:
                break
            service, label, token = tasks[i]
            share = min(unit * weights[i], 200)  # short rounds: new seeds, both modes
            n = fuzz_operation(
                service,
                bases[service],
                ops[service, label],
                token,
                share,
                mode,
                planted,
                summary,
                rng,
                session,
            )
            if n < share // 2 and rounds >= 1:
                exhausted.add(i)
            if summary.cases - reported >= PROGRESS_EVERY:
                reported = summary.cases
                print(
                    f"fuzz worker {seed}: {summary.cases} cases, {summary.server_errors} 5xx, "
                    f"{len(summary.failures)} mismatches, {time.monotonic() - started:.0f} s",
                    flush=True,
                )
        rounds += 1
    return dict(summary.services), summary.failures, planted.values


def fuzz(
    bases: dict[str, str],
    total: int,
    *,
    seed: int = 0,
    workers: int = 1,
    skip: Iterable[str] = ("GET /metrics",),
) -> tuple[Summary, Planted]:
    """Fuzz each service at ``bases[name]`` until ``total`` cases have been sent, by
    ``workers`` processes, each with its share of the (operation, credential) pairs."""
    started = time.monotonic()
    tasks = _tasks(bases, skip)
    random.Random(seed).shuffle(tasks)
    groups = [tasks[w::workers] for w in range(workers)]
    budgets = [total // workers + (1 if w < total % workers else 0) for w in range(workers)]
    if workers == 1:
        results = [_work(bases, groups[0], budgets[0], seed)]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(_work, bases, g, b, seed * 1000 + w)
                for w, (g, b) in enumerate(zip(groups, budgets, strict=True))
            ]
            results = [f.result() for f in futures]
    summary, planted = Summary(), Planted()
    for tallies, failures, values in results:
        for name, t in tallies.items():
            mine = summary.services[name]
            mine.cases += t.cases
            mine.server_errors += t.server_errors
            mine.statuses.update(t.statuses)
        for key, message in failures.items():
            summary.failures.setdefault(key, message)
        planted.values |= values
    summary.seconds = time.monotonic() - started
    return summary, planted
