"""A sample's orders: a second file mapped with the same transforms, grouped into orders and joined to guests.

Each row of the orders file is an order, or an item of one (rows sharing a referenceId are one order, its
attributes from the first of them). The file is read whole when the run starts (orders files of a PoC are
sample-sized); each order is attached to the guest whose identifier its key column holds, with a contact that
carries the guest's identifiers, exactly as generated orders are. A row that cannot be sent is a finding with
the file, row, column and fix: a failed transform, a missing referenceId, a key that matches no guest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_poc_studio.domain.lint import Api, lint_record
from cdp_poc_studio.generator.records import GeneratedOrder
from cdp_poc_studio.roundtrip.source.mapper import Finding, MappedRow, _ref, rule_getter
from cdp_poc_studio.roundtrip.source.reader import open_source
from cdp_poc_studio.roundtrip.source.spec import OrderRule, OrdersSpec
from cdp_poc_studio.roundtrip.source.transforms import TransformError, compile_steps

# An item's attributes taken from its order when no rule maps them (CDP requires currencyCode on every item).
_FROM_ORDER = ("currencyCode", "orderedAt", "status")


@dataclass(slots=True)
class _OrderRow:
    number: int
    line: int | None
    guest_key: str | None
    values: dict[str, Any]
    findings: list[Finding]


@dataclass(slots=True)
class SourceOrder:
    """One order of the file: its rows, the order and item values mapped, and its findings."""

    reference: str
    guest_key: str
    rows: list[_OrderRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    sent: GeneratedOrder | None = None

    @property
    def ok(self) -> bool:
        return not self.findings and not any(row.findings for row in self.rows)


class SourceOrders:
    """The orders file of a [source], mapped: `attach` gives each guest row its orders; `log_lines` every row."""

    def __init__(self, spec: OrdersSpec, *, api: Api = "batch", now: datetime | None = None) -> None:
        self.spec, self.api, self.now = spec, api, now or datetime.now(UTC)
        path = Path(spec.file)
        self.name = path.name
        self.source = open_source(path, format=spec.format, encoding=spec.encoding, delimiter=spec.delimiter)
        self._key = rule_getter(self.source, [spec.guest_key])
        self._rules: list[tuple[OrderRule, Callable[[Any], Any], Callable[[Any], Any]]] = [
            (rule, rule_getter(self.source, rule.columns), compile_steps(rule.transforms)) for rule in spec.mapping
        ]
        self._has_items = any(rule.target.startswith("items.") for rule in spec.mapping)
        self._origins = {rule.target: rule.label for rule in spec.mapping}
        self.orders: dict[str, SourceOrder] = {}
        self._by_guest: dict[str, list[SourceOrder]] = {}
        self._loose: list[_OrderRow] = []  # rows without a referenceId or a guest key: no order to join them to
        self._guests: dict[str, int] = {}  # guest id -> its row, for every guest row seen (sent or not)
        for row in self.source.rows():
            self._add(self._map(row.number, row.line, row.cells))

    def _finding(self, row: int, line: int | None, column: str, value: Any, reason: str, kind: str) -> Finding:
        return Finding(row, line, column, value, reason, kind, file=self.name)

    def _map(self, number: int, line: int | None, cells: Any) -> _OrderRow:
        findings: list[Finding] = []
        raw_key = self._key(cells)
        key = str(raw_key).strip() or None if raw_key is not None else None
        if key is None:
            findings.append(self._finding(number, line, self.spec.guest_key, None,
                                          "is empty: every order row names its guest; fill in the guest's id",
                                          "row"))  # fmt: skip
        values: dict[str, Any] = {}
        for rule, get, steps in self._rules:
            raw = get(cells)
            try:
                result = steps(raw)
            except TransformError as exc:
                findings.append(self._finding(number, line, rule.label, raw, str(exc), "transform"))
                continue
            if result is None:
                if rule.required or rule.target == "referenceId":
                    findings.append(self._finding(number, line, rule.label, raw,
                                                  f"is empty, and {rule.target} is required; fill it or add a default "
                                                  "transform", "transform"))  # fmt: skip
                continue
            values[rule.target] = result
        return _OrderRow(number, line, key, values, findings)

    def _add(self, row: _OrderRow) -> None:
        reference = row.values.get("referenceId")
        if reference is None or row.guest_key is None:
            self._loose.append(row)
            return
        reference = str(reference)
        order = self.orders.get(reference)
        if order is None:
            order = self.orders[reference] = SourceOrder(reference, row.guest_key)
            self._by_guest.setdefault(row.guest_key, []).append(order)
        elif order.guest_key != row.guest_key:
            row.findings.append(self._finding(
                row.number, row.line, self.spec.guest_key, row.guest_key,
                f"order {reference} belongs to guest {order.guest_key} (row {order.rows[0].number}); "
                "one order has one guest: fix the key or the referenceId", "row",
            ))  # fmt: skip
        else:
            # An order's attributes come from its first row: a later row saying otherwise is named, never dropped.
            first = order.rows[0]
            for target, value in row.values.items():
                if not target.startswith("items.") and target in first.values and first.values[target] != value:
                    row.findings.append(self._finding(
                        row.number, row.line, self._origins[target], value,
                        f"order {reference} has {first.values[target]!r} here in row {first.number}; the rows of "
                        "one order agree on its attributes: fix one of them", "row",
                    ))  # fmt: skip
        order.rows.append(row)

    # ------------------------------------------------------------------------------------------------ joining

    def attach(self, row: MappedRow) -> None:
        """Give a guest row's guest its orders (those that map cleanly and pass CDP's rules)."""
        if row.key is None:
            return
        guest_id = row.key.split(":", 1)[1]
        self._guests.setdefault(guest_id, row.number)
        if row.guest is None:
            return
        orders = []
        for order in self._by_guest.get(guest_id, []):
            if not order.ok:
                continue
            built = self._build(order, row.guest.guest)
            if built is not None:
                order.sent = built
                orders.append(built)
        row.guest.orders = orders

    def _build(self, order: SourceOrder, guest: dict[str, Any]) -> GeneratedOrder | None:
        first = order.rows[0]
        value: dict[str, Any] = {k: v for k, v in first.values.items() if not k.startswith("items.")}
        value["referenceId"] = order.reference
        # The contact carries the guest's identifiers, so CDP's identity rules link the order to the guest.
        contact: dict[str, Any] = {k: guest[k] for k in ("firstName", "lastName") if k in guest}
        if guest.get("email"):
            contact["emails"] = [guest["email"]]
        contact["identifiers"] = [dict(identifier) for identifier in guest["identifiers"]]
        value["contact"] = contact
        if self._has_items:
            items = []
            for index, row in enumerate(order.rows, start=1):
                item = {k.removeprefix("items."): v for k, v in row.values.items() if k.startswith("items.")}
                item.setdefault("referenceId", f"{order.reference}-{index}")
                for name in _FROM_ORDER:
                    if name in value:
                        item.setdefault(name, value[name])
                items.append(item)
            value["orderItems"] = items
        # Items can only be inserted (X-ORDERS: upsert with items is refused), so orders are inserted, as generated.
        record = {"ref": _ref(f"order:{order.reference}"), "schema": "order", "mode": "insert", "value": value}
        for violation in lint_record(record, self.api, now=self.now):
            path = violation.path.removeprefix("value.")
            target = path if "[" not in path else "items." + path.rsplit(".", 1)[-1]
            order.findings.append(self._finding(
                first.number, first.line, self._origins.get(target, ""), None,
                f"{path}: {violation.message} (CDP rule {violation.rule})", "lint",
            ))  # fmt: skip
        if order.findings:
            return None
        return GeneratedOrder(record, None, [None] * len(value.get("orderItems", [])))

    def unjoined(self) -> None:
        """After every guest row: orders whose guest is unknown, or was not sent, become findings."""
        for guest_id, orders in self._by_guest.items():
            guest_row = self._guests.get(guest_id)
            for order in orders:
                if order.sent is not None or not order.ok:
                    continue
                first = order.rows[0]
                if guest_row is None:
                    reason = (f"no guest has the identifier {guest_id!r}; fix the key, or add the guest to the "
                              "guests' file")  # fmt: skip
                else:
                    reason = f"its guest (row {guest_row} of the guests' file) is not sent; fix that row first"
                order.findings.append(self._finding(first.number, first.line, self.spec.guest_key, guest_id, reason,
                                                    "row"))  # fmt: skip

    def findings(self) -> Iterator[Finding]:
        for row in self._loose:
            yield from row.findings
        for order in self.orders.values():
            for row in order.rows:
                yield from row.findings
            yield from order.findings

    def log_lines(self) -> Iterator[dict[str, Any]]:
        """One line per row of the orders file, in file order: its order, item and payload, or its findings."""
        lines: list[tuple[int, dict[str, Any]]] = []
        for row in self._loose:
            lines.append((row.number, self._line(row, None, row.findings)))
        for order in self.orders.values():
            for index, row in enumerate(order.rows):
                findings = row.findings + (order.findings if index == 0 else [])
                if order.sent is None and not findings:
                    findings = [f for r in order.rows for f in r.findings] + order.findings
                line = self._line(row, order, findings)
                if order.sent is not None and index == 0:
                    line["ref"] = order.sent.record["ref"]
                    line["payload"] = order.sent.record
                lines.append((row.number, line))
        lines.sort(key=lambda pair: pair[0])
        for _number, line in lines:
            yield line

    def _line(self, row: _OrderRow, order: SourceOrder | None, findings: list[Finding]) -> dict[str, Any]:
        line: dict[str, Any] = {"file": self.name, "row": row.number, "line": row.line, "key": row.guest_key}
        if order is not None:
            line["order"] = order.reference
        if findings:
            line["findings"] = [f.to_json() for f in findings]
        return line

    @property
    def bad_rows(self) -> int:
        return sum(1 for line in self.log_lines() if "findings" in line)

    @property
    def row_count(self) -> int:
        return len(self._loose) + sum(len(order.rows) for order in self.orders.values())
