"""The sandbox from its clients' point of view: request sequences written from the documented and published
behaviour of five kinds of CDP client, each unchanged but for the endpoint and the credentials.

1. a Python batch uploader (size as a JSON string, no Content-Type on the allocation or the upload),
2. a CSV-to-batch converter (writes a UTF-8 byte order mark before the first record),
3. the .NET SDK's interactive and batch API (every property serialised, nulls included; zone-less DateTimes;
   `/v2` paths; `orders?guestRef=`; guest lookup by email and email identifier),
4. a curl script collection (the legacy pages' curl examples, run with the real curl: JSON with no Content-Type),
5. a `/v2` Postman collection over HTTPS (a newman run of tests/sandbox/postman/cdp-v2.postman_collection.json
   against `cdp-poc-studio sandbox --tls` started as the studio starts it).
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from cdp_poc_studio.targets.sandbox_admin import SandboxAdmin
from cdp_poc_studio.targets.sandbox_process import SandboxOptions, SandboxProcess
from tests.helpers.doc_examples import DOC_GUEST, DOC_ORDER

if TYPE_CHECKING:
    from conftest import SandboxApi

CLIENT_KEY, API_TOKEN = "sandbox-client-key", "sandbox-api-token"
POSTMAN = Path(__file__).parent / "postman" / "cdp-v2.postman_collection.json"


def _basic() -> str:
    return "Basic " + base64.b64encode(f"{CLIENT_KEY}:{API_TOKEN}".encode()).decode()


def _warnings(api: SandboxApi) -> list[str]:
    return [w for e in api.admin("GET", "/journal").json()["entries"] for w in e["warnings"]]


def _poll(client: httpx.Client, path: str) -> dict[str, Any]:
    for _ in range(600):
        status: dict[str, Any] = client.get(path).json()
        if status["status"]["code"] in ("success", "error", "corrupted"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"{path} never finished")


# -- 1. a Python batch uploader ------------------------------------------------------------------------------


def test_python_batch_uploader(api: SandboxApi) -> None:
    """Allocation body `{"checksum": hex, "size": "<n>"}` sent as a string body (no Content-Type), the upload with
    only Content-Md5 (base64 of the raw digest), then polling the status and reading the error log."""
    lines = [
        {
            "ref": str(uuid.uuid4()),
            "schema": "guest",
            "mode": "upsert",
            "value": {"guestType": "customer", "email": f"u{i}@example.com", "firstName": f"U{i}"},
        }
        for i in range(50)
    ]
    lines.append({"ref": "bad-1", "schema": "guest", "mode": "insert", "value": {"email": "x@example.com"}})
    data = gzip.compress("\n".join(json.dumps(line) for line in lines).encode())
    checksum = hashlib.md5(data).hexdigest()
    batch_ref = str(uuid.uuid4())
    with httpx.Client(base_url=api.base_url, headers={"Authorization": _basic()}) as client:
        allocation = client.put(
            f"/v2/batches/{batch_ref}", content=json.dumps({"checksum": checksum, "size": str(len(data))})
        )
        assert allocation.status_code == 200, allocation.text
        upload = httpx.put(
            allocation.json()["location"]["href"],
            content=data,
            headers={"Content-Md5": base64.b64encode(hashlib.md5(data).digest()).decode()},
        )
        assert upload.status_code == 200
        status = _poll(client, f"/v2/batches/{batch_ref}")
    assert status["status"]["code"] == "error"
    assert status["stats"]["successfulRecords"] == 50
    log = [json.loads(x) for x in gzip.decompress(httpx.get(status["status"]["log"]).content).splitlines()]
    assert [(e["ref"], e["code"]) for e in log] == [("bad-1", 402)]
    assert any("was sent as a string" in w for w in _warnings(api))


# -- 2. a CSV-to-batch converter -----------------------------------------------------------------------------


def test_csv_to_batch_converter_with_a_byte_order_mark(api: SandboxApi) -> None:
    """The converter reads a CRM CSV and writes NDJSON with encoding utf-8-sig (a BOM before the first record)."""
    crm = "email,first,last,tier\nann@example.com,Ann,Lee,gold\nbob@example.com,Bob,Ray,silver\n"
    out = io.StringIO()
    for row in csv.DictReader(io.StringIO(crm)):
        record = {
            "ref": str(uuid.uuid4()),
            "schema": "guest",
            "mode": "upsert",
            "value": {
                "guestType": "customer",
                "email": row["email"],
                "firstName": row["first"],
                "lastName": row["last"],
                "extensions": [{"name": "ext", "key": "default", "tier": row["tier"]}],
            },
        }
        out.write(json.dumps(record) + "\n")
    data = gzip.compress(out.getvalue().encode("utf-8-sig"))
    assert gzip.decompress(data).startswith(b"\xef\xbb\xbf")
    batch = api.run_batch(data)
    assert batch["status"] == {"code": "success"}
    assert batch["stats"]["successfulRecords"] == 2
    found = api.rest.get("/v2.1/guests", params={"email": "ann@example.com", "expand": "true"}).json()["items"]
    assert found[0]["dataExtensions"]["items"][0]["tier"] == "gold"


# -- 3. the .NET SDK ------------------------------------------------------------------------------------------


def _dotnet_guest(**values: Any) -> dict[str, Any]:
    """GuestCreate as System.Text.Json writes it: every property, nulls included, DateTime without a zone."""
    guest: dict[str, Any] = {
        "email": None,
        "emails": None,
        "phone": None,
        "phoneNumbers": None,
        "guestType": None,
        "firstName": None,
        "lastName": None,
        "gender": None,
        "language": None,
        "dateOfBirth": None,
        "identifiers": None,
    }
    guest.update(values)
    return guest


def test_dotnet_sdk_interactive_and_batch_sequences(api: SandboxApi) -> None:
    headers = {"Authorization": _basic(), "Content-Type": "application/json"}
    with httpx.Client(base_url=api.base_url, headers=headers) as sdk:
        created = sdk.post(
            "/v2/guests",
            content=json.dumps(
                _dotnet_guest(
                    email="dana@example.com",
                    guestType="customer",
                    firstName="Dana",
                    lastName="Kim",
                    gender="female",
                    language="EN",
                    dateOfBirth="1986-05-25T00:00:00",
                    identifiers=[{"provider": "email", "id": "dana@example.com", "expiryDate": None}],
                )
            ),
        )
        assert created.status_code == 201, created.text
        guest_ref = created.json()["ref"]
        assert created.json()["dateOfBirth"] == "1986-05-25T00:00:00.000Z"
        shown = created.headers.get_list("X-Sandbox-Warning")
        assert any("phone was null" in w for w in shown)
        # Find(email): both filters, first item
        found = sdk.get(
            "/v2/guests",
            params={"email": "dana@example.com", "identifiers.provider": "email", "identifiers.id": "dana@example.com"},
        ).json()
        assert found["items"][0]["href"].split("/")[-1] == guest_ref
        # Update: POST with the whole GuestCreate again, untouched properties null
        updated = sdk.post(f"/v2/guests/{guest_ref}", content=json.dumps(_dotnet_guest(lastName="Kimura")))
        assert updated.status_code == 200, updated.text
        assert updated.json()["firstName"] == "Dana"
        assert updated.json()["lastName"] == "Kimura"
        # guest data extensions: Find (the collection) then Get by extension ref
        ext = sdk.post(f"/v2/guests/{guest_ref}/extext", content=json.dumps({"key": "default", "vip": True}))
        assert ext.status_code == 201
        listing = sdk.get(f"/v2/guests/{guest_ref}/extext").json()
        ext_ref = listing["items"][0]["href"].split("/")[-1]
        assert sdk.get(f"/v2/guests/{guest_ref}/extext/{ext_ref}").json()["vip"] is True
        # orders: Create(guestRef), Find(guestRef) then Get each, order items
        order = sdk.post(
            f"/v2/orders?guestRef={guest_ref}",
            content=json.dumps(
                {
                    "orderedAt": "2025-03-01T10:00:00",
                    "currencyCode": "EUR",
                    "price": 120,
                    "paymentType": "Card",
                    "pointOfSale": "shop",
                    "channel": "WEB",
                    "status": "PURCHASED",
                    "referenceId": "NET-1",
                    "contacts": None,
                    "consumers": None,
                    "orderItems": None,
                }
            ),
        )
        assert order.status_code == 201, order.text
        order_ref = order.json()["ref"]
        item = sdk.post(
            f"/v2/orders/{order_ref}/orderItems",
            content=json.dumps(
                {
                    "type": "PRODUCT",
                    "productId": "P1",
                    "name": "Lamp",
                    "description": "Desk lamp",
                    "vendor": "ACME",
                    "price": 120,
                    "currencyCode": "EUR",
                    "quantity": 1,
                    "orderedAt": "2025-03-01T10:00:00",
                    "referenceId": None,
                    "status": None,
                }
            ),
        )
        assert item.status_code == 201, item.text
        orders = sdk.get("/v2/orders", params={"guestRef": guest_ref}).json()
        got = sdk.get(f"/v2/orders/{orders['items'][0]['href'].split('/')[-1]}").json()
        assert got["referenceId"] == "NET-1"
        assert got["orderedAt"] == "2025-03-01T10:00:00.000Z"
        items = sdk.get(f"/v2/orders/{order_ref}/orderItems").json()["items"]
        assert sdk.get(f"/v2/orderItems/{items[0]['href'].split('/')[-1]}").json()["name"] == "Lamp"
        # Find(email) ends in GetContext: the guest with its orders and their items
        context = sdk.get(
            f"/v2/guestContexts/{guest_ref}?expand=items.orders(offset:0,limit:100)&source=all&timeout=30000"
        ).json()
        assert context["ref"] == guest_ref
        assert context["orders"][0]["orderItems"][0]["name"] == "Lamp"
        assert context["orders"][0]["href"] == f"{api.base_url}/v2/orders/{order_ref}"
        # batch: allocation with an integer size, upload with Content-MD5 = raw digest
        data = gzip.compress(
            json.dumps(
                {
                    "ref": str(uuid.uuid4()),
                    "schema": "guest",
                    "mode": "upsert",
                    "value": {"guestType": "customer", "email": "dana@example.com", "city": "Osaka"},
                }
            ).encode()
            + b"\n"
        )
        batch_ref = str(uuid.uuid4())
        allocation = sdk.put(
            f"/v2/batches/{batch_ref}",
            content=json.dumps({"checksum": hashlib.md5(data).hexdigest(), "size": len(data)}),
        )
        upload = httpx.put(
            allocation.json()["location"]["href"],
            content=data,
            headers={
                "x-amz-server-side-encryption": "AES256",
                "Content-Type": "application/gzip",
                "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
            },
        )
        assert upload.status_code == 200
        assert _poll(sdk, f"/v2/batches/{batch_ref}")["status"]["code"] == "success"
        assert sdk.get(f"/v2/guests/{guest_ref}").json()["city"] == "Osaka"
    warnings = _warnings(api)
    assert any("phone was null" in w for w in warnings)
    assert any("has no time zone" in w for w in warnings)


# -- 4. a curl script collection ----------------------------------------------------------------------------


def _curl(*args: str) -> dict[str, Any]:
    result = subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, timeout=30, check=True)
    body: dict[str, Any] = json.loads(result.stdout)
    return body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_scripts_from_the_legacy_pages(api: SandboxApi) -> None:
    """The pages' examples: `curl -X POST '<baseURL>/v2/guests' -u '<user>:<password>' -H 'Accept: application/json'
    --data-raw '{...}'` (no Content-Type, so curl sends application/x-www-form-urlencoded)."""
    base, user = api.base_url, f"{CLIENT_KEY}:{API_TOKEN}"
    common = ["-u", user, "-H", "Accept: application/json"]
    guest = _curl(
        "-X",
        "POST",
        f"{base}/v2/guests",
        *common,
        "--data-raw",
        json.dumps(DOC_GUEST),
    )
    ref = guest["ref"]
    assert guest["href"] == f"{base}/v2/guests/{ref}"
    found = _curl("-X", "GET", f"{base}/v2/guests?email=jane.doe%40example.com", *common)
    assert found["items"] == [{"href": f"{base}/v2/guests/{ref}"}]
    by_name = _curl("-X", "GET", f"{base}/v2/guests?firstName=Jane&lastName=Doe", *common)
    assert by_name["items"] == [{"href": f"{base}/v2/guests/{ref}"}]
    updated = _curl(
        "-X",
        "POST",
        f"{base}/v2/guests/{ref}",
        *common,
        "--data-raw",
        json.dumps(
            {
                "guestType": "customer",
                "identifiers": [{"provider": "BXLP", "id": "123456", "expiryDate": "2028-08-23T16:17:16.000Z"}],
            }
        ),
    )
    assert updated["firstName"] == "Jane"
    by_id = _curl("-X", "GET", f"{base}/v2/guests?identifiers.provider=BXLP&identifiers.id=123456", *common)
    assert by_id["items"] == [{"href": f"{base}/v2/guests/{ref}"}]
    ext = _curl(
        "-X",
        "POST",
        f"{base}/v2/guests/{ref}/extext",
        *common,
        "--data-raw",
        '{"key": "default", "loyaltyTier": "level2"}',
    )
    assert ext["loyaltyTier"] == "level2"
    order = _curl(
        "-X",
        "POST",
        f"{base}/v2/orders",
        *common,
        "--data-raw",
        json.dumps(DOC_ORDER),
    )
    expanded = _curl("-X", "GET", f"{base}/v2/orders/{order['ref']}?expand=orderItems", *common)
    assert expanded["orderItems"]["items"] == []
    # a batch allocation as batch-api.html shows it
    allocation = _curl(
        "-X",
        "PUT",
        f"{base}/v2/batches/{uuid.uuid4()}",
        *common,
        "--data-raw",
        '{"checksum": "b1d600dbf7463924e24647e626cd7c1e", "size": 227}',
    )
    assert allocation["status"] == {"code": "uploading"}
    challenge = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--anyauth", "-u", user, f"{base}/v2/guests/{ref}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert challenge.stdout == "200"  # --anyauth sends credentials only after a WWW-Authenticate challenge


# -- 5. a /v2 Postman collection over HTTPS -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`cdp-poc-studio sandbox --tls` as the studio starts it (SandboxOptions(tls=True))."""
    folder = tmp_path_factory.mktemp("tls-sandbox")
    process = SandboxProcess(SandboxOptions(db_path=str(folder / "sandbox.db"), tls=True))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_tls_child_process_prints_its_certificate(tls_sandbox: SandboxProcess) -> None:
    assert tls_sandbox.base_url is not None
    assert tls_sandbox.base_url.startswith("https://127.0.0.1:")
    assert tls_sandbox.certificate is not None
    assert Path(tls_sandbox.certificate).parent == Path(tls_sandbox.options.db_path).parent
    context = ssl.create_default_context(cafile=tls_sandbox.certificate)
    with httpx.Client(base_url=tls_sandbox.base_url, verify=context, auth=(CLIENT_KEY, API_TOKEN)) as client:
        assert client.get("/v2/guests").status_code == 200
    # the studio's admin client over HTTPS
    assert SandboxAdmin(tls_sandbox.base_url, verify=context).health()["status"] == "ok"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("newman") is None, reason="newman is not installed (npm install -g newman)")
def test_newman_runs_a_v2_collection_over_https(tls_sandbox: SandboxProcess, tmp_path: Path) -> None:
    assert tls_sandbox.base_url is not None
    assert tls_sandbox.certificate is not None
    endpoint = tls_sandbox.base_url.removeprefix("https://")
    report = tmp_path / "newman.json"
    result = subprocess.run(
        [
            "newman",
            "run",
            str(POSTMAN),
            "--env-var",
            f"apiEndpoint={endpoint}",
            "--env-var",
            f"clientKey={CLIENT_KEY}",
            "--env-var",
            f"apiToken={API_TOKEN}",
            "--ssl-extra-ca-certs",
            tls_sandbox.certificate,
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--color",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    run = json.loads(report.read_text())["run"]
    assert run["stats"]["assertions"]["failed"] == 0
    assert run["stats"]["requests"]["total"] >= 10
