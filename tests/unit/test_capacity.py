"""The capacity plan's arithmetic, sources and choice, on figures that can be checked by hand."""

import pytest

from cdp_poc_studio.roundtrip.capacity import plan, render_plan

ENTERED = {
    "rest_latency_ms": 100.0,
    "rest_concurrency": 10.0,
    "orders_per_guest": 1.0,
    "upload_mb_per_s": 10.0,
    "processing_records_per_s": 1_000.0,
}
MEASURED = {
    "rest_requests_per_guest": (10.0, "a run"),
    "batch_bytes_per_guest": (500.0, "a run's batch files"),
}


def test_estimates_follow_the_stated_formulas() -> None:
    result = plan(1_000_000, MEASURED, ENTERED)
    # REST: 10,000,000 requests x 0.1 s / 10 workers.
    assert result.rest.requests == 10_000_000
    assert result.rest.seconds == pytest.approx(100_000)
    # Batch: 500 MB in 10 files of at most 50 MiB; 50 s upload; 2,000,000 records at 1,000/s; 10 polls of 30 s.
    assert result.batch.detail["files of 50 MB"] == 10
    assert result.batch.detail["upload seconds"] == pytest.approx(50)
    assert result.batch.detail["processing seconds"] == pytest.approx(2_000)
    assert result.batch.seconds == pytest.approx(2_350)
    assert result.guidance_days == pytest.approx(5)
    assert result.choice == "batch"
    assert any("200,000 a day" in reason and "5 days" in reason for reason in result.reasons)


def test_every_figure_says_where_it_comes_from() -> None:
    result = plan(1_000_000, MEASURED, ENTERED)
    sources = {f.name: f.source for f in result.figures}
    assert sources["rest_latency_ms"] == "entered"
    assert sources["batch_bytes_per_guest"] == "measured"
    assert sources["poll_seconds"] == "assumed"
    assert any(a.startswith("poll seconds = 30") for a in result.assumptions)
    text = render_plan(result)
    assert "measured: a run's batch files" in text
    assert "Choose BATCH" in text


def test_a_rate_limit_slows_rest_down() -> None:
    result = plan(1_000, MEASURED, {**ENTERED, "rest_rate_limit": 5.0})
    assert result.rest.seconds == pytest.approx(10_000 / 5)


def test_a_small_load_may_go_by_rest() -> None:
    result = plan(500, MEASURED, {**ENTERED, "processing_records_per_s": 1.0})
    assert result.rest.seconds < result.batch.seconds
    assert result.choice == "rest"


def test_no_guests_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan(0)
