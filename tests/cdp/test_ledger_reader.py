"""The ledger opened to look at (the studio's Batch files and Errors tabs): small cache, no writes, no side effects."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cdp_poc_studio.cdp.ledger import READER_CACHE_KIB, RecordState, RunLedger
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.run_jobs import read_ledger
from tests.helpers.data import make_generator


def test_a_reader_follows_a_run_that_writes_its_ledger(tmp_path: Path, schema: ExtensionSchema) -> None:
    writer = RunLedger(tmp_path / "ledger.sqlite")
    total = writer.register(make_generator(20, schema).guests())
    with RunLedger(tmp_path / "ledger.sqlite", read_only=True) as reader:
        assert reader.counts()[RecordState.GENERATED] == total
        first = next(writer.iter_records())
        writer.mark_failed(first.ref, http_status=400, code="invalid", message="bad email")
        # Each read sees what the writer committed since, through the same open reader.
        assert [r.ref for r in reader.failures()] == [first.ref]
        # The studio reads the ledger of a large run every second: its page cache is a few MB, not the writer's 64.
        assert reader._conn.execute("PRAGMA cache_size").fetchone()[0] == -READER_CACHE_KIB
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.mark_done(first.ref, cdp_ref=None)
    assert writer.get(first.ref).state is RecordState.FAILED  # type: ignore[union-attr]
    writer.close()


def test_a_reader_never_creates_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no run ledger"):
        RunLedger(tmp_path / "run" / "ledger.sqlite", read_only=True)
    assert not (tmp_path / "run").exists()


def test_reading_a_finished_runs_ledger_leaves_its_folder_as_it_was(tmp_path: Path, schema: ExtensionSchema) -> None:
    with RunLedger(tmp_path / "ledger.sqlite") as writer:
        writer.register(make_generator(5, schema).guests())
    before = sorted(p.name for p in tmp_path.iterdir())
    view = read_ledger(tmp_path)
    assert view is not None
    assert view.counts["generated"] == sum(view.counts.values()) > 5
    assert view.failures == []
    assert view.failures_total == 0
    # No -wal or -shm file left behind by the reader.
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["ledger.sqlite"]
