"""One join key per guest: what the ledger records at send time is what the run folder and verification look up."""

from pathlib import Path

from cdp_poc_studio.cdp.ledger import ledger_rows
from cdp_poc_studio.domain.join_keys import email_key, guest_key, order_key
from cdp_poc_studio.domain.schema_file import load_schema
from cdp_poc_studio.roundtrip.export_reading import row_keys
from cdp_poc_studio.roundtrip.generated import to_line
from tests.helpers.data import SCHEMA_PATH, make_generator


def test_a_guest_is_joined_by_its_first_identifier_else_by_its_email() -> None:
    two = {"email": "a@b.example", "identifiers": [{"provider": "loyalty", "id": "7"}, {"provider": "x", "id": "8"}]}
    assert guest_key(two) == "loyalty:7"
    assert guest_key({"email": "a@b.example", "identifiers": []}) == "email:a@b.example"
    assert guest_key({"firstName": "Ann"}) == ""  # nothing to find it by
    assert order_key({"referenceId": "ORD-1"}) == "ORD-1"


def test_the_ledger_the_generated_line_and_an_export_row_agree_on_the_key() -> None:
    schema = load_schema(SCHEMA_PATH)
    for guest in make_generator(5, schema).guests():
        ledger_key = next(row for row in ledger_rows(guest) if row[1] == "guest")[4]
        line_key = to_line(guest).key
        exported = {"identifiers": guest.guest["identifiers"], "email": guest.guest.get("email")}
        assert ledger_key == line_key == guest_key(guest.guest)
        assert line_key in row_keys(exported)


def test_an_email_only_guest_is_found_by_the_export_rows_email_key() -> None:
    guest = {"guestType": "customer", "email": "solo@example.com"}
    assert guest_key(guest) == email_key("solo@example.com")
    assert guest_key(guest) in row_keys({"email": "solo@example.com", "identifiers": "[]"})


def test_a_readback_line_round_trips_through_its_model(tmp_path: Path) -> None:
    import gzip

    from cdp_poc_studio.roundtrip.run_folder import (
        ReadbackGuest,
        ReadbackItem,
        ReadbackLine,
        ReadbackOrder,
        read_readback,
    )

    line = ReadbackLine(
        key="loyalty:7", matches=1,
        guest=ReadbackGuest(ref="g-1", data={"email": "a@b.example"}, extensions={"ext": {"tier": "gold"}}),
        orders=[ReadbackOrder(data={"referenceId": "O1"}, items=[ReadbackItem(data={"sku": "S"})])],
    )  # fmt: skip
    path = tmp_path / "readback.ndjson.gz"
    with gzip.open(path, "wb") as out:
        out.write(line.model_dump_json().encode() + b"\n")
        out.write(ReadbackLine(key="loyalty:8").model_dump_json().encode() + b"\n")
    assert list(read_readback(path)) == [line, ReadbackLine(key="loyalty:8")]
