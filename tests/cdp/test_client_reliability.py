"""Reliability: a run killed with SIGKILL and resumed, and a scan for leaked secrets (the fault drills are in
tests/drills)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from cdp_poc_studio.cdp.batch import BatchSender, PollSettings, write_batch_files
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.exports import AudienceExportClient, ExportFormat
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.requestlog import RequestLog
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.errors import CdpAuthError, CdpError, PresignedUrlExpired
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import FAST_RETRY, ROOT, SCHEMA_PATH, make_generator
from tests.helpers.verify_support import check_store


def _sandbox_credentials() -> Credentials:
    return Credentials.of("sandbox-client-key", "sandbox-api-token", "sandbox-oauth-client", "sandbox-oauth-secret")


# -- SIGKILL halfway, then resume -----------------------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import RunLedger
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.cdp.secrets import SANDBOX_CREDENTIALS
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings

base_url, ledger_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
generator = Generator(GeneratorSettings(guests=count, seed=9), load_schema(Path(sys.argv[4])))
conn = CdpConnection(ConnectionProfile.sandbox(base_url), SANDBOX_CREDENTIALS)
RestSender(conn.http, RunLedger(ledger_path), RestSettings(concurrency=8)).send(generator.guests())
print("finished", flush=True)
"""


def test_run_killed_with_sigkill_then_resumed_has_no_duplicates_and_no_gaps(
    sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    count = 120
    ledger_path = tmp_path / "killed.sqlite"
    admin.set_faults(["latency=15ms"])  # slow enough to kill it halfway
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, sandbox.base_url, str(ledger_path), str(count), str(SCHEMA_PATH)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        done = 0
        total = 1
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if not ledger_path.exists():
                continue
            try:
                with sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True) as db:
                    done = db.execute("SELECT COUNT(*) FROM records WHERE state = 'done'").fetchone()[0]
                    total = max(1, db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
            except sqlite3.OperationalError:
                continue
            if done >= total // 2 and total > 100:
                break
        assert child.poll() is None, child.communicate()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
        assert child.stdout is not None
        assert child.stderr is not None
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    admin.clear_faults()

    ledger = RunLedger(ledger_path)
    before = ledger.counts()
    assert 0 < before[RecordState.DONE] < ledger.total()
    guests = list(make_generator(count, schema, seed=9).guests())
    with CdpConnection(ConnectionProfile.sandbox(sandbox.base_url), _sandbox_credentials(), retry=FAST_RETRY) as conn:
        result = RestSender(conn.http, ledger, RestSettings(concurrency=8)).send(guests)
    assert result.skipped > 0
    assert (result.guests_failed, result.orders_failed) == (0, 0)
    assert ledger.counts()[RecordState.DONE] == ledger.total() == sum(1 + len(g.orders) for g in guests)
    check_store(sandbox.base_url, guests).assert_complete()


# -- secrets never leak ---------------------------------------------------------------------------------------

CLIENT_KEY = "ck-7f3a9e21c4"
API_TOKEN = "tok-SECRET-5b8d2f6a9c1e"
OAUTH_ID = "oauth-id-4e7a1b3c"
OAUTH_SECRET = "oauth-SECRET-9d2c7f1e3a5b"


def test_secrets_never_appear_in_logs_ledger_errors_or_request_log(
    schema: ExtensionSchema, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = SandboxConfig(
        port=0, client_key=CLIENT_KEY, api_token=API_TOKEN, oauth_client_id=OAUTH_ID, oauth_client_secret=OAUTH_SECRET
    )
    caplog.set_level(logging.DEBUG)
    log_path = tmp_path / "requests.ndjson"
    errors: list[str] = []
    with SandboxServer(config) as server:
        admin = SandboxAdmin(server.base_url)
        creds = Credentials.of(CLIENT_KEY, API_TOKEN, OAUTH_ID, OAUTH_SECRET)
        with CdpConnection(
            ConnectionProfile.sandbox(server.base_url), creds, request_log=RequestLog(path=log_path), retry=FAST_RETRY
        ) as conn:
            conn.test_connection()
            guests = list(make_generator(6, schema, orders_per_guest="fixed:1").guests())
            guests[2].guest["guestType"] = "robot"  # a REST failure recorded in the ledger
            ledger = RunLedger(tmp_path / "rest.sqlite")
            RestSender(conn.http, ledger).send(guests)
            guests[2].guest["guestType"] = "visitor"  # a batch failure (only customers) with an error log
            batch_ledger = RunLedger(tmp_path / "batch.sqlite")
            files = write_batch_files(guests, tmp_path / "files", batch_ledger)
            BatchSender(conn.http, batch_ledger, poll=PollSettings(0.05, 0.3, timeout=60)).send_all(files)
            admin.put_export({"friendlyId": "scan"})
            admin.run_export("scan")
            exports = AudienceExportClient(conn.http)
            listing = exports.latest_export("scan")
            list(exports.iter_records(listing.exports[0], ExportFormat()))
            admin.advance_clock(7200)
            try:
                exports.download(listing.exports[0], tmp_path / "dl")
            except PresignedUrlExpired as exc:
                errors += [str(exc), repr(exc)]
            try:  # CDP's 404 names the client key in its developerMessage
                conn.http.get_json("/v2.1/guests/00000000-0000-4000-8000-000000000000")
            except CdpError as exc:
                errors += [str(exc), repr(exc), str(getattr(exc, "body", ""))]
            access_token = conn.oauth._token if conn.oauth is not None else None
            assert access_token
            with CdpConnection(
                ConnectionProfile.sandbox(server.base_url), Credentials.of(CLIENT_KEY, "tok-WRONG-000000")
            ) as bad:
                try:
                    bad.http.get_json("/v2.1/guests")
                except CdpAuthError as exc:
                    errors += [str(exc), repr(exc), str(exc.body)]
            bad_oauth = Credentials.of(CLIENT_KEY, API_TOKEN, OAUTH_ID, "oauth-WRONG-0000")
            with CdpConnection(ConnectionProfile.sandbox(server.base_url), bad_oauth) as bad:
                try:
                    AudienceExportClient(bad.http).reports("scan")
                except CdpError as exc:
                    errors += [str(exc), repr(exc)]
            entries = conn.request_log.entries()
            request_log = orjson.dumps([e.to_json() for e in entries]).decode()
            curls = "\n".join(e.as_curl() for e in entries)
        ledger.close()
        batch_ledger.close()

    assert len(entries) > 50
    assert errors
    haystacks = {
        "logs": "\n".join(record.getMessage() for record in caplog.records),
        "request log": request_log,
        "request log file": log_path.read_text(),
        "curl": curls,
        "exceptions": "\n".join(errors),
        "ledgers": "\n".join(p.read_bytes().decode("latin-1") for p in tmp_path.glob("*.sqlite*")),
    }
    assert "HTTP Request" in haystacks["logs"]  # httpx did log, so the scan means something
    for name, text in haystacks.items():
        for secret in (API_TOKEN, OAUTH_SECRET, access_token, CLIENT_KEY):
            assert secret not in text, f"{secret[:6]}... found in {name}"
    assert "$CDP_API_TOKEN" in curls
