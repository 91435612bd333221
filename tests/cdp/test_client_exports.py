"""Audience export: listings, reports, streamed downloads, JSON and CSV parsing, delta files, expired URLs."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from cdp_poc_studio.cdp.connection import CdpConnection
from cdp_poc_studio.cdp.exports import (
    AudienceExportClient,
    ExportFormat,
    ExportListing,
    iter_export_file,
    parse_records,
)
from cdp_poc_studio.cdp.profiles import ConnectionProfile
from cdp_poc_studio.cdp.rest import GuestClient
from cdp_poc_studio.cdp.rest_sender import RestSender
from cdp_poc_studio.cdp.secrets import Credentials
from cdp_poc_studio.domain.errors import CdpAuthError, CdpNotFound, PresignedUrlExpired
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.sandbox.server import SandboxServer
from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from tests.helpers.data import make_generator


def guest_refs(connection: CdpConnection, guests: list) -> set[str]:  # type: ignore[type-arg]
    client = GuestClient(connection.http)
    return {client.find_by_identifier(g.identifier["provider"], g.identifier["id"])[0] for g in guests}


def test_full_json_export_is_listed_downloaded_and_parsed(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(12, schema, orders_per_guest="fixed:0").guests())
    RestSender(connection.http).send(guests)
    refs = guest_refs(connection, guests)
    admin.put_export({"friendlyId": "all_guests", "attributes": ["email", "firstName"]})
    report = admin.run_export("all_guests")

    client = AudienceExportClient(connection.http)
    listing = client.latest_export("all_guests")
    assert listing.execution_ref == report["executionRef"]
    assert listing.friendly_id == "all_guests"
    assert listing.exports
    assert not listing.is_delta
    records = [
        r for _file, path in client.download_all(listing, tmp_path) for r in iter_export_file(path, ExportFormat())
    ]
    assert {r["guestRef"] for r in records} == refs
    emails = {g.guest["email"] for g in guests}
    assert {r["email"] for r in records} == emails

    [finished] = client.reports("all_guests")
    assert finished.execution_ref == report["executionRef"]
    assert finished.status == "SUCCESS"
    assert finished.definition_type == "FULL_SYNC"
    assert finished.successes == 12
    same = client.execution_export(finished.execution_ref)
    assert [f.url.split("?")[0] for f in same.exports] == [f.url.split("?")[0] for f in listing.exports]
    # Streaming without saving gives the same records.
    streamed = [r for f in listing.exports for r in client.iter_records(f, ExportFormat())]
    assert sorted(r["guestRef"] for r in streamed) == sorted(r["guestRef"] for r in records)
    # The definition's ref works as well as its friendlyId.
    assert client.latest_export(str(report["definitionRef"])).execution_ref == listing.execution_ref


def test_csv_export_with_pipe_separator(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(5, schema, orders_per_guest="fixed:0").guests())
    RestSender(connection.http).send(guests)
    admin.put_export(
        {
            "friendlyId": "csv_pipe",
            "format": "CSV",
            "csv": {"separator": "pipe", "header": True, "quote": True},
            "attributes": ["email", "lastName", "street"],
            "includeExtensions": False,
        }
    )
    admin.run_export("csv_pipe")
    client = AudienceExportClient(connection.http)
    listing = client.latest_export("csv_pipe")
    fmt = ExportFormat.csv(delimiter="|", header=True, quoting=True)
    records = [r for f in listing.exports for r in client.iter_records(f, fmt)]
    assert {r["email"] for r in records} == {g.guest["email"] for g in guests}
    assert set(records[0]) == {"guestRef", "email", "lastName", "street"}


def test_delta_export_lists_added_and_removed_files(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    guests = list(make_generator(6, schema, orders_per_guest="fixed:0").guests())
    RestSender(connection.http).send(guests[:4])
    admin.put_export(
        {
            "friendlyId": "delta_members",
            "definitionType": "DELTA",
            "segment": {"match": "all", "rules": [{"attribute": "lastName", "op": "ne", "value": "Gone"}]},
        }
    )
    admin.run_export("delta_members")
    RestSender(connection.http).send(guests[4:])
    client = GuestClient(connection.http)
    leaving = client.find_by_identifier(guests[0].identifier["provider"], guests[0].identifier["id"])[0]
    client.update(leaving, {"lastName": "Gone"})
    admin.run_export("delta_members")

    exports = AudienceExportClient(connection.http)
    listing = exports.latest_export("delta_members")
    assert listing.is_delta
    added = {r["guestRef"] for f in listing.added for r in exports.iter_records(f, ExportFormat())}
    removed = {r["guestRef"] for f in listing.removed for r in exports.iter_records(f, ExportFormat())}
    assert added == guest_refs(connection, guests[4:])
    assert removed == {leaving}
    reports = exports.reports("delta_members")
    assert len(reports) == 2
    latest = next(r for r in reports if r.execution_ref == listing.execution_ref)
    assert (latest.success_add, latest.success_remove) == (2, 1)


def test_expired_export_url_raises_a_typed_error(
    connection: CdpConnection, sandbox: SandboxServer, admin: SandboxAdmin, schema: ExtensionSchema, tmp_path: Path
) -> None:
    RestSender(connection.http).send(list(make_generator(2, schema, orders_per_guest="fixed:0").guests()))
    admin.put_export({"friendlyId": "soon_gone"})
    admin.run_export("soon_gone")
    client = AudienceExportClient(connection.http)
    listing = client.latest_export("soon_gone")
    admin.advance_clock(2 * 3600)
    with pytest.raises(PresignedUrlExpired) as info:
        client.download(listing.exports[0], tmp_path)
    assert "list the export again" in str(info.value)
    assert not list(tmp_path.iterdir())  # no partial file left
    # A fresh listing gives fresh URLs.
    fresh = client.latest_export("soon_gone")
    assert client.download(fresh.exports[0], tmp_path).exists()


def test_unknown_export_and_bad_oauth_secret(sandbox: SandboxServer) -> None:
    def connect(api_token: str, oauth_secret: str) -> CdpConnection:
        creds = Credentials.of("sandbox-client-key", api_token, "sandbox-oauth-client", oauth_secret)
        return CdpConnection(ConnectionProfile.sandbox(sandbox.base_url), creds)

    with connect("sandbox-api-token", "sandbox-oauth-secret") as good:
        with pytest.raises(CdpNotFound):
            AudienceExportClient(good.http).latest_export("no_such_export")
        assert all(c.ok for c in good.test_connection())
    with connect("sandbox-api-token", "wrong-oauth-secret") as bad:
        with pytest.raises(CdpAuthError):
            AudienceExportClient(bad.http).reports("anything")
        assert {c.name: c.ok for c in bad.test_connection()} == {"rest": True, "batch": True, "oauth": False}
    with connect("wrong-api-token", "sandbox-oauth-secret") as wrong_token:
        checks = {c.name: c.ok for c in wrong_token.test_connection()}
        assert checks == {"rest": False, "batch": False, "oauth": True}


# -- parsing without a server ---------------------------------------------------------------------------------


def test_csv_options_header_quoting_and_delimiter() -> None:
    quoted = ['"guestRef","email","street"\n', '"g1","a@example.com","1 Main St, Apt 2"\n']
    assert list(parse_records(iter(quoted), ExportFormat.csv())) == [
        {"guestRef": "g1", "email": "a@example.com", "street": "1 Main St, Apt 2"}
    ]
    bare = ["g1|a@example.com\n", "g2|b@example.com\n"]
    assert list(
        parse_records(
            iter(bare), ExportFormat.csv(delimiter="|", header=False, quoting=False, fieldnames=("guestRef", "email"))
        )
    ) == [
        {"guestRef": "g1", "email": "a@example.com"},
        {"guestRef": "g2", "email": "b@example.com"},
    ]
    assert list(parse_records(iter(["x|y\n"]), ExportFormat.csv(delimiter="|", header=False))) == [
        {"column1": "x", "column2": "y"}
    ]


def test_listing_model_reads_the_documented_sample(tmp_path: Path) -> None:
    sample = {
        "executionRef": "fe351e84-3504-4668-8e5f-574d320b9679",
        "definitionRef": "d6c5335a-4028-49c0-8d55-a534e89127c9",
        "friendlyId": "daily_loyalty_members",
        "clientKey": "ck",
        "expireAt": "2024-11-05T12:08:00.145Z",
        "numberOfFiles": 2,
        "totalSizeKB": 54,
        "exports": [
            {"url": "https://s/1", "sizeKB": 52, "deltaAction": "add"},
            {"url": "https://s/2", "sizeKB": 2, "deltaAction": "remove"},
        ],
    }
    listing = ExportListing.model_validate(sample)
    assert (listing.total_size_kb, listing.number_of_files, listing.exports[0].size_kb) == (54, 2, 52)
    assert [f.url for f in listing.added] == ["https://s/1"]
    assert [f.url for f in listing.removed] == ["https://s/2"]
    path = tmp_path / "part.json.gz"
    path.write_bytes(gzip.compress(b'{"guestRef":"g1"}\n\n{"guestRef":"g2"}\n'))
    assert [r["guestRef"] for r in iter_export_file(path, ExportFormat())] == ["g1", "g2"]


def test_export_calls_carry_a_bearer_token_and_downloads_none() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "jwt-abcdef", "expires_in": 86400, "token_type": "Bearer"})
        if request.url.host == "files.example":
            return httpx.Response(200, content=gzip.compress(b'{"guestRef":"g1"}\n'))
        return httpx.Response(200, json={"exports": [{"url": "https://files.example/part-0.json.gz?Signature=s"}]})

    conn = CdpConnection(
        ConnectionProfile.custom("https://api.example", token_url="https://api.example/oauth/token"),
        Credentials.of("ck-12345", "tok-12345", "cid-12345", "sec-12345"),
        transport=httpx.MockTransport(handler),
    )
    client = AudienceExportClient(conn.http)
    listing = client.latest_export("daily")
    assert [r["guestRef"] for r in client.iter_records(listing.exports[0], ExportFormat())] == ["g1"]
    token, latest, download = seen
    assert token.url == httpx.URL("https://api.example/oauth/token")
    assert latest.url.path == "/v2/audienceExports/definitions/daily/latestExport"
    assert latest.headers["Authorization"] == "Bearer jwt-abcdef"
    assert "authorization" not in download.headers
