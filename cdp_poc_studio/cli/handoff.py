"""`handoff` and `plan`: what a PoC run leaves for the customer's developers, and how long a full load takes."""

from __future__ import annotations

from pathlib import Path

import click


class _UsageError(click.ClickException):
    exit_code = 2


@click.command("handoff")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Folder to write.")
def handoff_command(run: Path, out: Path) -> None:
    """Write a run's hand-off: Postman collection, load.py, Personalize decisions and data lake SQL, README."""
    from cdp_poc_studio.roundtrip.handoff import HandoffError, write_handoff

    try:
        result = write_handoff(run, out)
    except HandoffError as exc:
        raise _UsageError(str(exc)) from None
    click.echo(f"Hand-off of {run.name} written to {result.out}:")
    click.echo(f"  postman/collection.json   {result.postman_requests:,} requests with tests (+ environment.json)")
    click.echo(f"  load.py, load/plan.json   {result.load_steps:,} load steps" + (
        f", {result.batch_files} batch file(s) in batches/" if result.batch_files else ""
    ))  # fmt: skip
    click.echo(f"  decisions/, sql/          {result.snippets} snippets for the nested fields")
    click.echo(f"  README.md                 what each file is and how to run it ({result.out / 'README.md'})")


@click.command("plan")
@click.option("--guests", type=click.IntRange(min=1), required=True, help="How many guests the full load has.")
@click.option(
    "--from",
    "run",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A run folder to measure figures from (orders per guest, latency, bytes per guest, ...).",
)
@click.option("--orders-per-guest", type=click.FloatRange(min=0), help="Orders per guest (else measured or assumed).")
@click.option("--items-per-order", type=click.FloatRange(min=0), help="Order items per order.")
@click.option("--latency-ms", type=click.FloatRange(min=0.1), help="Mean REST request latency to the tenant.")
@click.option("--concurrency", type=click.IntRange(min=1), help="REST requests in flight at once.")
@click.option("--rate-limit", type=click.FloatRange(min=0.001), help="The tenant's REST rate limit, requests/s.")
@click.option("--upload-mbps", type=click.FloatRange(min=0.001), help="Upload rate to CDP's S3, MB/s.")
@click.option("--processing-rate", type=click.FloatRange(min=0.001), help="CDP's batch processing, records/s.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan_command(
    guests: int,
    run: Path | None,
    orders_per_guest: float | None,
    items_per_order: float | None,
    latency_ms: float | None,
    concurrency: int | None,
    rate_limit: float | None,
    upload_mbps: float | None,
    processing_rate: float | None,
    output: str,
) -> None:
    """Estimate a full load of GUESTS guests with their orders by Batch and by REST, and say which to choose."""
    from cdp_poc_studio.roundtrip.capacity import measure_run, plan, render_plan

    try:
        measured = measure_run(run) if run is not None else {}
    except ValueError as exc:
        raise _UsageError(f"--from {run}: {exc}") from None
    entered = {
        "orders_per_guest": orders_per_guest,
        "items_per_order": items_per_order,
        "rest_latency_ms": latency_ms,
        "rest_concurrency": float(concurrency) if concurrency is not None else None,
        "rest_rate_limit": rate_limit,
        "upload_mb_per_s": upload_mbps,
        "processing_records_per_s": processing_rate,
    }
    result = plan(guests, measured, entered)
    click.echo(result.model_dump_json(indent=2) if output == "json" else render_plan(result))
