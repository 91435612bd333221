"""An orders file mapped and joined to the sample's guests: one row per order (here NDJSON, for REST) or per item,
and the rows that cannot be sent as findings naming the file, row and column."""

from pathlib import Path

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.source.mapper import SourceMapping
from cdp_poc_studio.roundtrip.source.orders import SourceOrders
from cdp_poc_studio.roundtrip.source.reader import open_source
from cdp_poc_studio.roundtrip.source.spec import OrdersSpec
from tests.source.test_reader_and_mapper import RULES, write

GUESTS = "id;name;dob;optin\nC1;Ann;14/03/1985;yes\nC2;Bob;01/02/1980;no\n"


def _join(orders: SourceOrders, guests: Path) -> dict[str, list[dict[str, object]]]:
    """Each guest's orders, as the run sends them."""
    out = {}
    for row in SourceMapping(RULES, open_source(guests), ExtensionSchema(), provider="CRM", api=orders.api).rows():
        orders.attach(row)
        assert row.guest is not None
        out[row.guest.identifier["id"]] = [order.record["value"] for order in row.guest.orders]
    orders.unjoined()
    return out


def test_one_json_object_per_order_for_rest(tmp_path: Path) -> None:
    guests = write(tmp_path, "guests.csv", GUESTS)
    path = write(
        tmp_path,
        "orders.ndjson",
        '{"no": "A-1", "customer": {"id": "C2"}, "at": "2024-05-01 10:00", "total": "12.5", "cur": "eur"}\n'
        '{"no": "A-2", "customer": {"id": "C2"}, "at": "2024-06-01 11:30", "total": "7", "cur": "EUR"}\n',
    )
    spec = OrdersSpec.model_validate({
        "file": str(path), "guest_key": "customer.id",
        "mapping": [
            {"column": "no", "target": "referenceId"},
            {"column": "at", "target": "orderedAt", "transforms": [{"op": "datetime", "formats": ["%Y-%m-%d %H:%M"]}]},
            {"column": "total", "target": "price", "transforms": [{"op": "number"}]},
            {"column": "cur", "target": "currencyCode", "transforms": [{"op": "case", "to": "upper"}]},
        ],
    })  # fmt: skip
    orders = SourceOrders(spec, api="rest")
    joined = _join(orders, guests)
    assert joined["C1"] == []
    assert [(o["referenceId"], o["orderedAt"], o["price"], o["currencyCode"]) for o in joined["C2"]] == [
        ("A-1", "2024-05-01T10:00:00.000Z", 12.5, "EUR"), ("A-2", "2024-06-01T11:30:00.000Z", 7, "EUR"),
    ]  # fmt: skip
    assert joined["C2"][0]["contact"] == {"firstName": "Bob", "identifiers": [{"provider": "CRM", "id": "C2"}]}
    assert "orderItems" not in joined["C2"][0]
    assert not list(orders.findings())


def test_item_rows_that_disagree_on_their_order_are_a_finding_and_the_order_is_not_sent(tmp_path: Path) -> None:
    guests = write(tmp_path, "guests.csv", GUESTS)
    path = write(tmp_path, "orders.csv", "no,cust,total,sku\nA-1,C1,10,S1\nA-1,C1,11,S2\nA-2,C1,5,S3\n")
    spec = OrdersSpec.model_validate({
        "file": str(path), "guest_key": "cust",
        "mapping": [
            {"column": "no", "target": "referenceId"},
            {"target": "orderedAt", "transforms": [{"op": "constant", "value": "2024-05-01T10:00:00.000Z"}]},
            {"target": "currencyCode", "transforms": [{"op": "constant", "value": "EUR"}]},
            {"column": "total", "target": "price", "transforms": [{"op": "number"}]},
            {"column": "sku", "target": "items.productId"},
            {"column": "sku", "target": "items.name"},
            {"column": "total", "target": "items.price", "transforms": [{"op": "number"}]},
            *({"target": f"items.{name}", "transforms": [{"op": "constant", "value": "X"}]}
              for name in ("type", "description", "vendor")),
        ],
    })  # fmt: skip
    orders = SourceOrders(spec, api="rest")
    joined = _join(orders, guests)
    assert [o["referenceId"] for o in joined["C1"]] == ["A-2"]
    assert joined["C1"][0]["orderItems"] == [{
        "productId": "S3", "name": "S3", "price": 5, "type": "X", "description": "X", "vendor": "X",
        "referenceId": "A-2-1", "currencyCode": "EUR", "orderedAt": "2024-05-01T10:00:00.000Z",
    }]  # fmt: skip
    [finding] = orders.findings()
    assert str(finding) == (
        "orders.csv, row 2 (line 3), column 'total', value 11: order A-1 has 10 here in row 1; the rows of one order "
        "agree on its attributes: fix one of them"
    )
    assert [(line["row"], "findings" in line) for line in orders.log_lines()] == [(1, True), (2, True), (3, False)]
