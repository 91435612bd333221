"""The batch flow against a MockTransport: the exact requests sent, polling, error-log mapping, the ledger."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cdp_poc_studio.cdp.batch import (
    BatchSender,
    PollSettings,
    files_from_ledger,
    parse_error_log,
    write_batch_files,
)
from cdp_poc_studio.cdp.batchfile import BatchFile, BatchFileWriter
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import BatchFileState, RecordKind, RecordState, RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.retry import RetrySettings
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.errors import BatchCorrupted, BatchFailed
from cdp_poc_studio.domain.progress import StageEvent
from tests.helpers.data import make_generator

BASE = "https://api-engage-eu.sitecorecloud.io"
S3 = "https://sitecore-batch-service-production-eu-west-1.s3.eu-west-1.amazonaws.com"
CREDS = Credentials.of("client-key-123", "api-token-secret-456")
FAST_POLL = PollSettings(initial=0.001, maximum=0.005, timeout=10)


class FakeBatchApi:
    """Just enough of the Batch API and S3, from cdp-api-facts.md §6, to see what the client sends."""

    def __init__(self, statuses: list[str] | None = None, log_lines: list[dict[str, Any]] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses = statuses or ["processing", "success"]
        self.log_lines = log_lines or []
        self.expire_uploads = 0
        self.allocations: list[str] = []
        self.uploaded: dict[str, bytes] = {}
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.url.host.endswith("amazonaws.com"):
            if path.endswith("/error.gz"):
                body = b"".join(orjson.dumps(line) + b"\n" for line in self.log_lines)
                return httpx.Response(200, content=gzip.compress(body))
            if self.expire_uploads:
                self.expire_uploads -= 1
                return httpx.Response(
                    403, text="<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
                )
            self.uploaded[path.split("/")[2]] = request.read()  # /pqs/{ref}/import.gz
            return httpx.Response(200)
        ref = path.rsplit("/", 1)[1]
        if request.method == "PUT":
            self.allocations.append(ref)
            body = orjson.loads(request.content)
            return httpx.Response(
                200,
                json={
                    "href": f"{BASE}/v2/batches/{ref}",
                    "ref": ref,
                    "checksum": body["checksum"],
                    "size": body["size"],
                    "location": {
                        "href": f"{S3}/pqs/{ref}/import.gz?AWSAccessKeyId=AK&Expires=9&Signature=sig",
                        "expiry": "2030-01-01T00:00:00.000Z",
                    },
                    "status": {"code": "uploading"},
                },
            )
        self.polls += 1
        code = self.statuses[min(self.polls - 1, len(self.statuses) - 1)]
        status: dict[str, Any] = {"code": code}
        if code == "error":
            status["log"] = f"{S3}/pqs/{ref}/error.gz?AWSAccessKeyId=AK&Expires=9&Signature=sig"
        return httpx.Response(200, json={"ref": ref, "status": status, "stats": {"totalRecords": 3}})


def connection(api: FakeBatchApi) -> CdpConnection:
    return CdpConnection(
        ConnectionProfile.tenant("EU"),
        CREDS,
        transport=httpx.MockTransport(api),
        retry=RetrySettings(attempts=3, initial=0.001, maximum=0.01),
    )


def small_file(tmp_path: Path, records: list[dict[str, Any]]) -> BatchFile:
    with BatchFileWriter(tmp_path / "files") as writer:
        writer.write_all(records)
    return writer.files[0]


RECORDS = [
    {
        "ref": f"00000000-0000-4000-8000-00000000000{n}",
        "schema": "guest",
        "mode": "upsert",
        "value": {"guestType": "customer", "identifiers": [{"provider": "P", "id": str(n)}]},
    }
    for n in range(3)
]


def test_batch_upload_sends_the_documented_requests(tmp_path: Path) -> None:
    api = FakeBatchApi()
    file = small_file(tmp_path, RECORDS)
    progress: list[StageEvent] = []
    result = BatchSender(
        connection(api).http,
        poll=FAST_POLL,
        progress=progress.append,
        ref_factory=lambda: "12af3453-62da-4b31-a646-631b7b5f3009",
    ).send(file)
    assert result.status == "success"
    assert result.batch_ref == "12af3453-62da-4b31-a646-631b7b5f3009"
    allocate, upload, *polls = api.requests
    # 1. allocation: PUT /v2/batches/{ref}, Basic auth, {checksum: hex md5, size}
    assert (allocate.method, allocate.url.path) == ("PUT", "/v2/batches/12af3453-62da-4b31-a646-631b7b5f3009")
    assert (
        allocate.headers["Authorization"]
        == "Basic " + base64.b64encode(b"client-key-123:api-token-secret-456").decode()
    )
    data = file.path.read_bytes()
    assert orjson.loads(allocate.content) == {"checksum": hashlib.md5(data).hexdigest(), "size": len(data)}
    # 2. upload: PUT to the pre-signed URL, no Authorization, the three S3 headers, the exact bytes
    assert upload.method == "PUT"
    assert str(upload.url).startswith(S3)
    assert "authorization" not in upload.headers
    assert upload.headers["x-amz-server-side-encryption"] == "AES256"
    assert upload.headers["Content-Md5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert upload.headers["Content-Type"] == "application/gzip"
    assert upload.headers["Content-Length"] == str(len(data))
    assert api.uploaded["12af3453-62da-4b31-a646-631b7b5f3009"] == data
    # 3. polling until a final status
    assert [p.url.path for p in polls] == ["/v2/batches/12af3453-62da-4b31-a646-631b7b5f3009"] * 2
    # Outside a run of several files the sender's events count the upload's bytes, in the send stage.
    uploads = [e for e in progress if e.unit == "bytes"]
    assert uploads
    assert {e.stage for e in progress} == {"send"}
    assert uploads[-1].done == uploads[-1].total == len(data)
    assert uploads[-1].detail.startswith(f"uploading {file.path.name}")


def test_failed_records_are_mapped_back_to_their_lines(tmp_path: Path) -> None:
    log = [{"ref": RECORDS[1]["ref"], "code": 400, "message": "Validation error"}]
    api = FakeBatchApi(["processing", "error"], log)
    file = small_file(tmp_path, RECORDS)
    result = BatchSender(connection(api).http, poll=FAST_POLL).send(file)
    assert result.status == "error"
    [failure] = result.failed
    assert (failure.ref, failure.code, failure.message) == (RECORDS[1]["ref"], "400", "Validation error")
    assert (failure.kind, failure.key, failure.line) == (RecordKind.GUEST, "P:1", 2)
    assert failure.record == RECORDS[1]
    log_request = api.requests[-1]
    assert log_request.url.path.endswith("/error.gz")
    assert "authorization" not in log_request.headers


def test_corrupted_raises_a_typed_error_that_says_what_to_do(tmp_path: Path) -> None:
    api = FakeBatchApi(["corrupted"])
    with pytest.raises(BatchCorrupted) as info:
        BatchSender(connection(api).http, poll=FAST_POLL).send(small_file(tmp_path, RECORDS))
    assert "write the batch file again" in str(info.value)


def test_error_without_a_log_explains_the_likely_cause(tmp_path: Path) -> None:
    class NoLog(FakeBatchApi):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.method == "GET":
                return httpx.Response(200, json={"ref": "x", "status": {"code": "error"}})
            return response

    with pytest.raises(BatchFailed, match="not gzip"):
        BatchSender(connection(NoLog()).http, poll=FAST_POLL).send(small_file(tmp_path, RECORDS))


def test_expired_upload_url_is_reallocated_with_a_new_batch_ref(tmp_path: Path) -> None:
    api = FakeBatchApi()
    api.expire_uploads = 1
    refs = iter(["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"])
    result = BatchSender(connection(api).http, poll=FAST_POLL, ref_factory=lambda: next(refs)).send(
        small_file(tmp_path, RECORDS)
    )
    assert api.allocations == ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"]
    assert result.batch_ref == "aaaaaaaa-0000-4000-8000-000000000002"
    assert result.batch_refs == api.allocations


def test_error_log_parser_reads_gzip_and_plain_in_any_chunking() -> None:
    lines = (
        b'{"ref":"a","code":400,"message":"Validation error"}\n{"ref":"b","code":"402","message":"Unsupported mode"}\n'
    )
    packed = gzip.compress(lines)
    for data in (packed, lines):
        chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
        entries = list(parse_error_log(chunks))
        assert [(e.ref, e.code) for e in entries] == [("a", "400"), ("b", "402")]


# -- the ledger with batch files -----------------------------------------------------------------------------


def test_writing_records_every_line_in_the_ledger(tmp_path: Path, schema: Any) -> None:
    generator = make_generator(30, schema)
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(generator.guests(), tmp_path / "out", ledger)
    guests = list(generator.guests())
    total = sum(1 + len(g.orders) for g in guests)
    assert ledger.total() == total
    assert ledger.counts()[RecordState.WRITTEN] == total
    # Every record is where the ledger says it is.
    lines = {}
    with gzip.open(files[0].path, "rb") as stream:
        for number, line in enumerate(stream, start=1):
            lines[number] = orjson.loads(line)
    for guest in guests:
        row = ledger.get(guest.record["ref"])
        assert row is not None
        assert (row.kind, row.seq, row.position, row.file) == (RecordKind.GUEST, guest.seq, 0, files[0].path.name)
        assert row.line is not None
        assert lines[row.line] == guest.record
        for n, order in enumerate(guest.orders, start=1):
            order_row = ledger.get(order.record["ref"])
            assert order_row is not None
            assert order_row.parent_ref == guest.record["ref"]
            assert order_row.position == n
            assert order_row.key == order.record["value"]["referenceId"]
    assert [f.path for f in files_from_ledger(ledger) or []] == [f.path for f in files]


def test_rewriting_identical_files_keeps_their_upload_state(tmp_path: Path, schema: Any) -> None:
    generator = make_generator(10, schema)
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    [file] = write_batch_files(generator.guests(), tmp_path / "out", ledger)
    ledger.batch_allocated(file.path.name, "ref-1")
    ledger.batch_finished(file.path.name, "ref-1", BatchFileState.SUCCESS, [])
    [again] = write_batch_files(generator.guests(), tmp_path / "out", ledger)
    assert again.md5_hex == file.md5_hex
    row = ledger.batch_file(file.path.name)
    assert row is not None
    assert row.state is BatchFileState.SUCCESS
    assert ledger.counts()[RecordState.DONE] == ledger.total()


def test_finished_files_are_not_sent_again(tmp_path: Path, schema: Any) -> None:
    generator = make_generator(5, schema)
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    files = write_batch_files(generator.guests(), tmp_path / "out", ledger)
    api = FakeBatchApi()
    first = BatchSender(connection(api).http, ledger, poll=FAST_POLL).send_all(files)
    sent = len(api.requests)
    second = BatchSender(connection(api).http, ledger, poll=FAST_POLL).send_all(files)
    assert len(api.requests) == sent
    assert [r.batch_ref for r in second] == [r.batch_ref for r in first]
    assert ledger.counts()[RecordState.DONE] == ledger.total()
    [attempt] = ledger.batch_attempts()
    assert attempt["state"] == "success"


def test_a_record_can_be_traced_by_ref_key_or_line(tmp_path: Path, schema: Any) -> None:
    guests = list(make_generator(4, schema, orders_per_guest="fixed:1").guests())
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    [file] = write_batch_files(guests, tmp_path / "out", ledger)
    order = guests[2].orders[0].record
    [by_key] = ledger.find(order["value"]["referenceId"])
    assert by_key.ref == order["ref"]
    assert ledger.at_line(file.path.name, by_key.line or 0) == by_key
    [guest_row] = ledger.find(f"{guests[2].identifier['provider']}:{guests[2].identifier['id']}")
    assert guest_row.ref == guests[2].record["ref"]
    assert [r.ref for r in ledger.iter_records(batch=3)] == [
        ref for g in guests for ref in (g.record["ref"], g.orders[0].record["ref"])
    ]
    ledger.batch_allocated(file.path.name, "b-1")
    matched = ledger.batch_finished(
        file.path.name, "b-1", BatchFileState.ERROR, [(order["ref"], "400", "Validation error")]
    )
    assert matched == 1
    [failed] = list(ledger.failures())
    assert (failed.ref, failed.error_code, failed.batch_ref, failed.state) == (
        order["ref"],
        "400",
        "b-1",
        RecordState.FAILED,
    )
    ledger.set_meta("settings", {"seed": 7})
    assert ledger.get_meta("settings") == {"seed": 7}
    ledger.close()
