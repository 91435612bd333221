"""Guest and Order REST flows against the sandbox over loopback: no duplicates on reruns or lost responses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.ledger import RecordState, RunLedger
from cdp_poc_studio.cdp.readback import ReadBack
from cdp_poc_studio.cdp.rest import GuestClient
from cdp_poc_studio.cdp.rest_sender import RestSender, RestSettings
from cdp_poc_studio.domain.errors import CdpValidationError
from cdp_poc_studio.domain.progress import CancelToken, StageEvent
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.dryrun import dry_run_batch, dry_run_rest
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import make_generator
from tests.helpers.verify_support import check_store


def posts(admin: SandboxAdmin, path: str) -> int:
    return sum(1 for e in admin.journal() if e["method"] == "POST" and e["path"] == path)


def test_create_then_rerun_without_duplicates(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(25, schema).guests())
    progress: list[StageEvent] = []
    ledger = RunLedger(tmp_path / "run1.sqlite")
    first = RestSender(connection.http, ledger, RestSettings(concurrency=8), progress=progress.append).send(
        guests, total=len(guests)
    )
    assert (first.guests_done, first.guests_failed, first.orders_failed) == (25, 0, 0)
    assert first.orders_done == sum(len(g.orders) for g in guests)
    assert ledger.counts()[RecordState.DONE] == ledger.total()
    assert progress[-1].done == 25
    check_store(sandbox.base_url, guests).assert_complete()
    created = posts(admin, "/v2.1/guests")
    assert created == 25

    # A second run with a fresh ledger (nothing to resume from) finds everything and creates nothing new.
    admin.clear_journal()
    second = RestSender(connection.http, RunLedger(tmp_path / "run2.sqlite"), RestSettings(concurrency=8)).send(guests)
    assert (second.guests_done, second.guests_failed, second.orders_failed) == (25, 0, 0)
    journal = admin.journal()
    assert not [e for e in journal if e["method"] == "POST" and e["path"] in ("/v2.1/guests", "/v2.1/orders")]
    assert not [e for e in journal if e["method"] == "POST" and e["path"].endswith(("/contacts", "/orderItems"))]
    assert [e for e in journal if e["method"] == "PUT" and e["path"].startswith("/v2.1/guests/")]
    check_store(sandbox.base_url, guests).assert_complete()

    # Rerunning with the same ledger sends nothing at all.
    admin.clear_journal()
    third = RestSender(connection.http, ledger).send(guests)
    assert third.skipped == 25
    assert not [e for e in admin.journal() if e["path"].startswith("/v2.1")]


@pytest.mark.parametrize(
    "path",
    ["/v2.1/guests", "/v2.1/orders", "/v2.1/orders/*/contacts", "/v2.1/orders/*/orderItems"],
)
def test_lost_response_to_a_create_does_not_duplicate(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, path: str
) -> None:
    guests = list(make_generator(4, schema, orders_per_guest="fixed:1").guests())
    # The sandbox carries out the first matching POST, then cuts the connection before answering.
    admin.set_faults([{"action": "drop", "phase": "after", "method": "POST", "path": path, "count": 1}])
    result = RestSender(connection.http, settings=RestSettings(concurrency=1)).send(guests)
    assert admin.faults()[0]["fired"] == 1
    assert (result.guests_failed, result.orders_failed) == (0, 0)
    check_store(sandbox.base_url, guests).assert_complete()


def test_existing_extension_is_patched_on_409(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema
) -> None:
    [guest] = list(make_generator(1, schema, orders_per_guest="fixed:0").guests())
    value = guest.guest
    ext = next(g for g in value["extensions"] if g["name"] == "ext")
    guests = GuestClient(connection.http)
    ref = guests.create({k: v for k, v in value.items() if k != "extensions"})["ref"]
    stale = {"name": "ext", "loyaltyTier": "stale", "oldKey": "kept"}
    guests.create_extension(ref, stale)
    admin.clear_journal()

    RestSender(connection.http).send([guest])
    calls = [(e["method"], e["path"], e["status"]) for e in admin.journal() if "/extensions" in e["path"]]
    assert ("POST", f"/v2.1/guests/{ref}/extensions", 409) in calls
    assert ("PATCH", f"/v2.1/guests/{ref}/extensions/ext", 200) in calls
    [snapshot] = ReadBack(connection.http).guest_by_identifier(guest.identifier["provider"], guest.identifier["id"])
    expected = {k: v for k, v in ext.items() if k not in ("name", "key")}
    assert {k: snapshot.extensions["ext"][k] for k in expected} == expected
    assert snapshot.extensions["ext"]["oldKey"] == "kept"  # PATCH replaces only the keys sent


def test_read_back_returns_what_was_sent(
    connection: CdpConnection, sandbox: SandboxServer, schema: ExtensionSchema
) -> None:
    guests = list(make_generator(3, schema, orders_per_guest="fixed:1").guests())
    RestSender(connection.http).send(guests)
    reader = ReadBack(connection.http)
    for guest in guests:
        [snapshot] = reader.guest_by_identifier(guest.identifier["provider"], guest.identifier["id"])
        assert snapshot.data["email"] == guest.guest["email"]
        for group in guest.guest.get("extensions") or []:
            sent = {k: v for k, v in group.items() if k not in ("name", "key")}
            assert snapshot.extensions[group["name"]] == sent
        order = guest.orders[0].record["value"]
        [back] = reader.orders_by_reference_id(order["referenceId"])
        assert back.data["price"] == order["price"]
        assert sorted(i.data["referenceId"] for i in back.items) == sorted(
            i["referenceId"] for i in order["orderItems"]
        )
        assert back.guest_refs == [snapshot.ref]
        if order.get("extensions"):
            assert back.extension == {k: v for k, v in order["extensions"][0].items() if k not in ("name", "key")}
        for sent_item, item in zip(
            sorted(order["orderItems"], key=lambda i: i["referenceId"]),
            sorted(back.items, key=lambda i: i.data["referenceId"]),
            strict=True,
        ):
            if sent_item.get("extensions"):
                assert item.extension == {
                    k: v for k, v in sent_item["extensions"][0].items() if k not in ("name", "key")
                }


def test_rejected_record_is_failed_in_the_ledger_and_others_go_through(
    connection: CdpConnection, sandbox: SandboxServer, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(3, schema, orders_per_guest="fixed:1").guests())
    guests[1].guest["guestType"] = "robot"
    ledger = RunLedger(tmp_path / "ledger.sqlite")
    result = RestSender(connection.http, ledger).send(guests)
    assert (result.guests_done, result.guests_failed, result.orders_failed) == (2, 1, 1)
    row = ledger.get(guests[1].record["ref"])
    assert row is not None
    assert (row.state, row.http_status) == (RecordState.FAILED, 400)
    assert row.error_message is not None
    assert "guestType" in row.error_message
    order_row = ledger.get(guests[1].orders[0].record["ref"])
    assert order_row is not None
    assert order_row.state == RecordState.FAILED
    with pytest.raises(CdpValidationError):
        GuestClient(connection.http).create({"guestType": "robot"})


def test_cancel_stops_the_send_and_leaves_the_ledger_consistent(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(60, schema).guests())
    admin.set_faults(["latency=20ms"])
    cancel = CancelToken()
    ledger = RunLedger(tmp_path / "ledger.sqlite")

    def on_progress(report: StageEvent) -> None:
        if report.done >= 10 and not cancel.cancelled:
            cancel.cancel()

    result = RestSender(connection.http, ledger, RestSettings(concurrency=8), progress=on_progress, cancel=cancel).send(
        guests
    )
    assert result.cancelled
    counts = ledger.counts()
    assert counts[RecordState.DONE] > 0
    # Stopped where it was, not after sending the rest.
    assert counts[RecordState.DONE] < ledger.total()
    assert counts[RecordState.DONE] + counts[RecordState.SENT] + counts[RecordState.GENERATED] == ledger.total()
    admin.clear_faults()
    # Resume: everything arrives once.
    RestSender(connection.http, ledger, RestSettings(concurrency=8)).send(guests)
    assert ledger.counts()[RecordState.DONE] == ledger.total()
    check_store(sandbox.base_url, guests).assert_complete()


def test_dry_run_lists_the_requests_and_lines_without_sending(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema
) -> None:
    [guest] = list(make_generator(1, schema, orders_per_guest="fixed:1", items_per_order="fixed:2").guests())
    plan = list(dry_run_rest([guest]))
    methods = [(p.method, p.path) for p in plan]
    assert methods[:2] == [("GET", "/v2.1/guests"), ("POST", "/v2.1/guests")]
    assert ("POST", "/v2.1/orders/{orderRef}/contacts") in methods
    assert methods.count(("POST", "/v2.1/orders/{orderRef}/orderItems")) == 2
    assert plan[1].body is not None
    assert "extensions" not in plan[1].body
    curl = plan[1].as_curl(sandbox.base_url)
    assert '-u "$CDP_CLIENT_KEY:$CDP_API_TOKEN"' in curl
    lines = list(dry_run_batch([guest]))
    assert len(lines) == 2
    assert '"schema":"guest"' in lines[0]
    assert not [e for e in admin.journal() if not e["path"].startswith("/_sandbox")]
