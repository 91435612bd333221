"""The batch flow against the sandbox over loopback: success, failed records mapped back, corrupted, expired URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp_poc_studio.cdp.batch import BatchClient, BatchSender, PollSettings, files_from_ledger, write_batch_files
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import BatchFileState, RecordKind, RecordState, RunLedger
from cdp_poc_studio.domain.errors import BatchCorrupted
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import make_generator
from tests.helpers.verify_support import check_store

POLL = PollSettings(initial=0.05, maximum=0.3, timeout=60)


def test_batch_success_end_to_end(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(40, schema).guests())
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(guests, tmp_path / "files", ledger)
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert (result.status, result.failed) == ("success", [])
    assert result.stats.get("totalRecords") == ledger.total()
    assert ledger.counts()[RecordState.DONE] == ledger.total()
    row = ledger.get(guests[0].record["ref"])
    assert row is not None
    assert (row.batch_ref, row.file, row.line) == (result.batch_ref, files[0].path.name, 1)
    check_store(sandbox.base_url, guests).assert_complete()
    uploads = [e for e in admin.journal() if e["path"].startswith("/_s3/") and e["method"] == "PUT"]
    assert len(uploads) == 1
    headers = uploads[0]["request_headers"]
    assert "authorization" not in headers
    assert headers["x-amz-server-side-encryption"] == "AES256"
    assert headers["content-md5"] == files[0].content_md5
    assert headers["content-type"] == "application/gzip"


def test_batch_failed_records_are_mapped_back_to_the_generated_record(
    connection: CdpConnection, sandbox: SandboxServer, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(12, schema, orders_per_guest="fixed:1").guests())
    guests[3].guest["guestType"] = "visitor"  # the Batch API takes only customers (facts §6.7)
    guests[7].record["mode"] = "insert"  # guests cannot be inserted: 402 Unsupported mode
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(guests, tmp_path / "files", ledger)
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert result.status == "error"
    by_ref = {f.ref: f for f in result.failed}
    assert set(by_ref) == {guests[3].record["ref"], guests[7].record["ref"]}
    visitor, insert = by_ref[guests[3].record["ref"]], by_ref[guests[7].record["ref"]]
    assert (visitor.kind, visitor.seq, visitor.position) == (RecordKind.GUEST, 3, 0)
    assert visitor.code == "400"
    assert insert.code == "402"
    assert visitor.key == f"{guests[3].identifier['provider']}:{guests[3].identifier['id']}"
    assert visitor.line == 7  # guest 3 comes after three guests with one order each
    counts = ledger.counts()
    assert counts[RecordState.FAILED] == 2
    assert counts[RecordState.DONE] == ledger.total() - 2
    row = ledger.get(guests[3].record["ref"])
    assert row is not None
    assert (row.state, row.error_code) == (RecordState.FAILED, "400")
    assert row.error_message is not None


def test_corrupted_upload_raises_and_is_recorded(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    admin.set_faults(["corrupt_upload,count=1"])
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(make_generator(5, schema).guests(), tmp_path / "files", ledger)
    with pytest.raises(BatchCorrupted) as info:
        BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert info.value.batch_ref
    row = ledger.batch_file(files[0].path.name)
    assert row is not None
    assert row.state is BatchFileState.CORRUPTED
    # What the error says to do works: send it again (the file is intact), with a new batch ref.
    row_ref = row.batch_ref
    assert files_from_ledger(ledger) is not None
    ledger.add_batch_file(files[0].path.name, 0, str(files[0].path), files[0].records, files[0].size, "changed")
    ledger.add_batch_file(files[0].path.name, 0, str(files[0].path), files[0].records, files[0].size, files[0].md5_hex)
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert result.status == "success"
    assert result.batch_ref != row_ref


def test_expired_upload_url_is_recovered_with_a_new_allocation(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    admin.set_faults(["expire_upload,count=1"])
    guests = list(make_generator(5, schema).guests())
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(guests, tmp_path / "files", ledger)
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert result.status == "success"
    assert len(result.batch_refs) == 2
    assert result.batch_ref == result.batch_refs[1]
    attempts = ledger.batch_attempts(files[0].path.name)
    assert [a["state"] for a in attempts] == ["failed", "success"]
    allocations = [e for e in admin.journal() if e["method"] == "PUT" and e["path"].startswith("/v2/batches/")]
    assert len(allocations) == 2
    check_store(sandbox.base_url, guests).assert_complete()


def test_upload_url_expired_by_the_clock_is_recovered(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    files = write_batch_files(make_generator(3, schema).guests(), tmp_path / "files")
    client = BatchClient(connection.http)
    allocation = client.allocate("3f1c2a40-0000-4000-8000-000000000001", files[0].md5_hex, files[0].size)
    admin.advance_clock(3601)  # the pre-signed URL is valid one hour
    from cdp_poc_studio.domain.errors import PresignedUrlExpired

    with pytest.raises(PresignedUrlExpired):
        client.upload(allocation.upload_url, files[0].path, files[0].content_md5, files[0].size)


def test_resume_picks_up_an_uploaded_batch_without_uploading_again(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(make_generator(5, schema).guests(), tmp_path / "files", ledger)
    file = files[0]
    # A previous run allocated and uploaded, then died before it saw the result.
    admin.hold_batches()
    client = BatchClient(connection.http)
    batch_ref = "5e0d9b2a-0000-4000-8000-000000000001"
    ledger.batch_allocated(file.path.name, batch_ref)
    allocation = client.allocate(batch_ref, file.md5_hex, file.size)
    client.upload(allocation.upload_url, file.path, file.content_md5, file.size)
    ledger.batch_state(file.path.name, batch_ref, BatchFileState.UPLOADED)
    admin.release_batches()
    admin.clear_journal()
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert (result.status, result.batch_ref) == ("success", batch_ref)
    assert not [e for e in admin.journal() if e["method"] == "PUT"]
    assert ledger.counts()[RecordState.DONE] == ledger.total()


def test_cancel_while_polling_stops_quickly_and_resume_does_not_upload_again(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    import threading
    import time

    from cdp_poc_studio.domain.progress import Cancelled, CancelToken

    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(make_generator(5, schema).guests(), tmp_path / "files", ledger)
    admin.hold_batches()  # the upload stays in file_uploaded: polling goes on until cancelled
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        BatchSender(connection.http, ledger, poll=PollSettings(initial=30, maximum=30), cancel=cancel).send_all(files)
    # Woken in the middle of a 30 s poll wait, not after it (a margin a loaded machine cannot eat).
    assert time.monotonic() - started < 15
    row = ledger.batch_file(files[0].path.name)
    assert row is not None
    assert row.state is BatchFileState.UPLOADED
    assert ledger.counts()[RecordState.SENT] == ledger.total()
    admin.release_batches()
    admin.clear_journal()
    [result] = BatchSender(connection.http, ledger, poll=POLL).send_all(files)
    assert (result.status, result.batch_ref) == ("success", row.batch_ref)
    assert not [e for e in admin.journal() if e["method"] == "PUT"]
