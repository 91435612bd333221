"""A capacity plan: how long a full load of N guests with their orders takes by Batch and by REST, and which to use.

Every figure says where it comes from: measured in a run folder (its generated data, batch files and request
log), entered by the user, or assumed (with the reason). The estimates are simple on purpose, so that an architect
can check them by hand:

- REST: requests = guests x requests per guest (with its orders); time = requests x latency / concurrency, or
  requests / rate limit when that is slower.
- Batch: files of at most 50 MB gzipped, uploaded one at a time; time = upload (bytes / upload rate) + CDP's
  processing (records / processing rate) + one status poll interval per file.
- Sitecore's guidance for migrations is at most 200,000 guests a day: a load above that is paced over days
  whatever the API's speed, and the plan says how many.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cdp_poc_studio.domain.limits import MAX_BATCH_FILE_BYTES

GUIDANCE_GUESTS_PER_DAY = 200_000
SourceKind = Literal["measured", "entered", "assumed", "documented"]

# Defaults when nothing was measured or entered, each with its reason.
ASSUMED: dict[str, tuple[float, str]] = {
    "orders_per_guest": (1.5, "a typical retail history; enter --orders-per-guest"),
    "items_per_order": (2.0, "a typical basket; enter --items-per-order"),
    "guest_groups": (1.0, "one guest extension group"),
    "rest_latency_ms": (150.0, "a tenant in another region over the internet; measure against yours"),
    "rest_concurrency": (16.0, "the studio's REST sender default"),
    "batch_bytes_per_guest": (600.0, "gzipped NDJSON of a guest with 1.5 orders and an extension group"),
    "upload_mb_per_s": (10.0, "a laptop's uplink to S3; enter --upload-mbps"),
    "processing_records_per_s": (
        500.0,
        "Sitecore publishes no batch processing rate: measure one (plan --from a run against the tenant) "
        "or enter --processing-rate",
    ),
    "poll_seconds": (30.0, "the interval between batch status polls"),
}


class Figure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    value: float
    unit: str
    source: SourceKind
    note: str = ""


class Estimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["batch", "rest"]
    seconds: float
    requests: int
    detail: dict[str, float]
    paced_days: float = 0.0


class CapacityPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guests: int
    figures: list[Figure]
    batch: Estimate
    rest: Estimate
    guidance_days: float
    choice: Literal["batch", "rest"]
    reasons: list[str]
    assumptions: list[str]

    def figure(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)


def _figure(
    name: str, unit: str, measured: Mapping[str, tuple[float, str]], entered: Mapping[str, float | None]
) -> Figure:
    if entered.get(name) is not None:
        return Figure(name=name, value=float(entered[name] or 0), unit=unit, source="entered")
    if name in measured:
        value, note = measured[name]
        return Figure(name=name, value=value, unit=unit, source="measured", note=note)
    value, note = ASSUMED[name]
    return Figure(name=name, value=value, unit=unit, source="assumed", note=note)


UNITS = {
    "orders_per_guest": "orders",
    "items_per_order": "items",
    "guest_groups": "groups",
    "rest_requests_per_guest": "requests",
    "rest_latency_ms": "ms",
    "rest_concurrency": "workers",
    "rest_rate_limit": "requests/s",
    "batch_bytes_per_guest": "bytes",
    "upload_mb_per_s": "MB/s",
    "processing_records_per_s": "records/s",
    "poll_seconds": "s",
}


def plan(
    guests: int,
    measured: Mapping[str, tuple[float, str]] | None = None,
    entered: Mapping[str, float | None] | None = None,
) -> CapacityPlan:
    """The plan for `guests`, from measured figures (name -> (value, where)), entered ones, and assumptions."""
    if guests < 1:
        raise ValueError("--guests must be at least 1")
    measured = dict(measured or {})
    entered = dict(entered or {})
    names = [n for n in UNITS if n not in ("rest_requests_per_guest", "rest_rate_limit")]
    figures = {name: _figure(name, UNITS[name], measured, entered) for name in names}
    orders = figures["orders_per_guest"].value
    items = figures["items_per_order"].value
    if entered.get("rest_requests_per_guest") is not None or "rest_requests_per_guest" in measured:
        figures["rest_requests_per_guest"] = _figure("rest_requests_per_guest", "requests", measured, entered)
    else:
        # A guest: a lookup (no duplicates), a create, one request per extension group; an order: a lookup, a
        # create, its contact, its extension; an item: a create and its extension (the studio's REST sender).
        per_guest = 2 + figures["guest_groups"].value + orders * (4 + items * 2)
        figures["rest_requests_per_guest"] = Figure(
            name="rest_requests_per_guest", value=round(per_guest, 2), unit="requests", source="assumed",
            note="counted from the REST sender's requests for the orders and items per guest above",
        )  # fmt: skip
    rate = entered.get("rest_rate_limit")
    if rate is not None:
        figures["rest_rate_limit"] = Figure(name="rest_rate_limit", value=rate, unit="requests/s", source="entered")

    rest = _rest(guests, figures)
    batch = _batch(guests, figures)
    guidance_days = guests / GUIDANCE_GUESTS_PER_DAY
    choice, reasons = _choose(guests, batch, rest, guidance_days)
    assumptions = [
        f"{f.name.replace('_', ' ')} = {f.value:g} {f.unit}: {f.note}"
        for f in figures.values()
        if f.source == "assumed"
    ]
    assumptions += [
        "No rate limits for CDP's REST or Batch APIs are published; enter --rate-limit if the tenant has one.",
        "Batch files are uploaded one at a time, each after the previous one finished, as Sitecore advises.",
        "Orders go in the same batch files as their guests; the audience export and read-back are not timed.",
    ]
    return CapacityPlan(
        guests=guests,
        figures=list(figures.values()),
        batch=batch,
        rest=rest,
        guidance_days=guidance_days,
        choice=choice,
        reasons=reasons,
        assumptions=assumptions,
    )


def _rest(guests: int, figures: Mapping[str, Figure]) -> Estimate:
    requests = math.ceil(guests * figures["rest_requests_per_guest"].value)
    latency = figures["rest_latency_ms"].value / 1000
    concurrency = max(1.0, figures["rest_concurrency"].value)
    seconds = requests * latency / concurrency
    limit = figures.get("rest_rate_limit")
    if limit is not None and limit.value > 0:
        seconds = max(seconds, requests / limit.value)
    return Estimate(
        method="rest",
        seconds=seconds,
        requests=requests,
        detail={"requests per second": requests / seconds if seconds else 0.0},
        paced_days=max(seconds / 86_400, guests / GUIDANCE_GUESTS_PER_DAY),
    )


def _batch(guests: int, figures: Mapping[str, Figure]) -> Estimate:
    total_bytes = guests * figures["batch_bytes_per_guest"].value
    files = max(1, math.ceil(total_bytes / MAX_BATCH_FILE_BYTES))
    upload = total_bytes / (figures["upload_mb_per_s"].value * 1_000_000)
    records = guests * (1 + figures["orders_per_guest"].value)
    processing = records / figures["processing_records_per_s"].value
    polling = files * figures["poll_seconds"].value
    seconds = upload + processing + polling
    return Estimate(
        method="batch",
        seconds=seconds,
        requests=files * 3,
        detail={
            "files of 50 MB": float(files),
            "upload seconds": upload,
            "processing seconds": processing,
            "polling seconds": polling,
            "gzipped bytes": total_bytes,
        },
        paced_days=max(seconds / 86_400, guests / GUIDANCE_GUESTS_PER_DAY),
    )


def _choose(
    guests: int, batch: Estimate, rest: Estimate, guidance_days: float
) -> tuple[Literal["batch", "rest"], list[str]]:
    reasons = []
    if guidance_days > 1:
        reasons.append(
            f"{guests:,} guests is above Sitecore's migration guidance of {GUIDANCE_GUESTS_PER_DAY:,} a day: "
            f"plan the load over {math.ceil(guidance_days)} days whichever API carries it."
        )
    if guests > 10_000 or batch.seconds <= rest.seconds:
        reasons.append(
            "Batch: Sitecore's guidance is Batch for volume and periodic loads; it needs "
            f"{batch.requests:,} requests ({int(batch.detail['files of 50 MB'])} file(s)) against "
            f"{rest.requests:,} REST requests."
        )
        if batch.seconds <= rest.seconds:
            reasons.append(f"Batch is also faster here: {duration(batch.seconds)} against {duration(rest.seconds)}.")
        else:
            reasons.append(
                f"REST would take {duration(rest.seconds)} against {duration(batch.seconds)}, but needs "
                f"{rest.requests // max(guests, 1)} or more requests per guest, which Sitecore says is hard at scale, "
                "and every retry and throttle multiplies."
            )
        reasons.append("A batch upsert replaces a guest's whole extension group: send every key of a group.")
        return "batch", reasons
    reasons.append(
        f"REST: {guests:,} guests take {duration(rest.seconds)} at the measured latency and concurrency, no longer "
        f"than Batch ({duration(batch.seconds)}), and REST can change single fields later."
    )
    return "rest", reasons


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5_400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


# ---------------------------------------------------------------- measuring a run folder


def measure_run(run: Path) -> dict[str, tuple[float, str]]:
    """The figures a run folder can give, each with where it was measured."""
    from cdp_poc_studio.roundtrip.replay import read_log
    from cdp_poc_studio.roundtrip.run_folder import RunFolder, read_generated

    folder = RunFolder(run)
    if not folder.exists():
        raise ValueError(f"{run} is not a run folder (no run.json and scenario.toml)")
    state = folder.load_state()
    where = f"run {state.run_id} on {state.target}"
    measured: dict[str, tuple[float, str]] = {}
    guests = orders = items = groups = 0
    if folder.generated.is_file():
        for line in read_generated(folder.generated):
            guests += 1
            groups += len(line.nested)
            orders += len(line.orders)
            items += sum(len(o.value.get("orderItems", [])) for o in line.orders)
    if guests:
        measured["orders_per_guest"] = (orders / guests, f"{orders:,} orders of {guests:,} guests in {where}")
        measured["guest_groups"] = (groups / guests, f"extension groups per guest in {where}")
        if orders:
            measured["items_per_order"] = (items / orders, f"{items:,} items of {orders:,} orders in {where}")
    batch_files = sorted(folder.batches.glob("*.gz")) if folder.batches.is_dir() else []
    if batch_files and guests:
        size = sum(p.stat().st_size for p in batch_files)
        measured["batch_bytes_per_guest"] = (size / guests, f"{size:,} gzipped bytes for {guests:,} guests in {where}")
    sandbox = state.target_kind == "sandbox"
    measured.update(_from_log(read_log(folder.requests), guests, where, sandbox))
    if not sandbox and guests:
        # A tenant's processing time is worth measuring; the sandbox's (milliseconds) would mislead.
        processing = _processing_seconds(read_log(folder.requests))
        if processing > 0:
            records = guests + orders
            measured["processing_records_per_s"] = (records / processing, f"batch processing in {where}")
    return measured


def _processing_seconds(log: Iterable[Mapping[str, Any]]) -> float:
    """From the end of each batch file's upload to the status poll that saw it finished, summed."""
    total = 0.0
    uploaded_at: float | None = None
    for entry in log:
        url, method = entry.get("url", ""), entry.get("method")
        if method == "PUT" and "/v2/batches/" not in url and entry.get("request_bytes"):
            uploaded_at = entry["started_at"] + entry.get("duration_ms", 0) / 1000
        elif method == "GET" and "/v2/batches/" in url and uploaded_at is not None:
            body = entry.get("response_body") or ""
            if any(f'"code":"{code}"' in body for code in ("success", "error", "corrupted")):
                total += entry["started_at"] - uploaded_at
                uploaded_at = None
    return total


def _from_log(log: Iterable[Mapping[str, Any]], guests: int, where: str, sandbox: bool) -> dict[str, tuple[float, str]]:
    measured: dict[str, tuple[float, str]] = {}
    rest = [e for e in log if "/v2.1/" in e.get("url", "") and e.get("status") and e.get("duration_ms") is not None]
    writes = [e for e in rest if e["method"] in ("POST", "PUT", "PATCH")]
    caveat = " (a loopback sandbox: enter --{} for a tenant)" if sandbox else ""
    if rest:
        mean = sum(e["duration_ms"] for e in rest) / len(rest)
        measured["rest_latency_ms"] = (
            mean,
            f"mean of {len(rest):,} REST requests in {where}{caveat.format('latency-ms')}",
        )
    if writes and guests:
        lookups = sum(1 for e in rest if e["method"] == "GET" and e.get("started_at", 0) < writes[-1]["started_at"])
        per_guest = (len(writes) + lookups) / guests
        measured["rest_requests_per_guest"] = (per_guest, f"{len(writes) + lookups:,} load requests in {where}")
    uploads = [e for e in log if e.get("method") == "PUT" and "/v2/batches/" not in e.get("url", "")]
    uploads = [e for e in uploads if e.get("request_bytes") and e.get("duration_ms")]
    if uploads:
        sent = sum(e["request_bytes"] for e in uploads)
        seconds = sum(e["duration_ms"] for e in uploads) / 1000
        measured["upload_mb_per_s"] = (
            sent / seconds / 1_000_000,
            f"{len(uploads)} upload(s) in {where}{caveat.format('upload-mbps')}",
        )
    return measured


def render_plan(plan: CapacityPlan) -> str:
    """The plan as text for a terminal or an email."""
    lines = [f"Capacity plan: a full load of {plan.guests:,} guests with their orders", ""]
    lines.append("Figures (where each comes from):")
    for figure in plan.figures:
        note = f": {figure.note}" if figure.note else ""
        lines.append(
            f"  {figure.name.replace('_', ' '):<26} {figure.value:>12,.2f} {figure.unit:<11} {figure.source}{note}"
        )
    lines.append("")
    rest, batch = plan.rest, plan.batch
    lines.append(
        f"REST:  {rest.requests:,} requests, {duration(rest.seconds)} "
        f"({rest.detail['requests per second']:,.0f} requests/s)"
    )
    lines.append(
        f"Batch: {int(batch.detail['files of 50 MB'])} file(s) of at most 50 MB, {duration(batch.seconds)} "
        f"(upload {duration(batch.detail['upload seconds'])}, "
        f"processing {duration(batch.detail['processing seconds'])}, "
        f"polling {duration(batch.detail['polling seconds'])})"
    )
    lines.append(
        f"Sitecore's migration guidance ({GUIDANCE_GUESTS_PER_DAY:,} guests a day): {plan.guidance_days:,.2f} day(s)"
    )
    lines += ["", f"Choose {plan.choice.upper()}:"]
    lines += [f"  - {reason}" for reason in plan.reasons]
    lines += ["", "Assumptions:"]
    lines += [f"  - {assumption}" for assumption in plan.assumptions]
    return "\n".join(lines)
