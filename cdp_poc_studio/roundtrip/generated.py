"""The generated data of a run, kept as gzipped NDJSON, and what verification expects of it."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from cdp_poc_studio.domain.join_keys import guest_key
from cdp_poc_studio.generator.records import GeneratedGuest
from cdp_poc_studio.roundtrip.run_folder import GeneratedLine, GeneratedOrderLine
from cdp_poc_studio.roundtrip.verify import Expected, guest_fields, order_dates, order_fields


def to_line(generated: GeneratedGuest) -> GeneratedLine:
    return GeneratedLine(
        seq=generated.seq,
        key=guest_key(generated.guest),
        ref=generated.record["ref"],
        guest=generated.guest,
        nested=generated.nested_extensions,
        orders=[
            GeneratedOrderLine(
                ref=order.record["ref"],
                value=order.record["value"],
                nested=order.nested_extension,
                items=order.nested_item_extensions,
            )
            for order in generated.orders
        ],
    )


class GeneratedWriter:
    """Appends generated guests to the run's generated.ndjson.gz; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self._stream = gzip.open(path, "wb", compresslevel=1)  # noqa: SIM115 - closed by __exit__

    def __enter__(self) -> GeneratedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, generated: GeneratedGuest) -> None:
        self._stream.write(to_line(generated).model_dump_json().encode() + b"\n")

    def close(self) -> None:
        self._stream.close()


def expected_records(
    lines: Iterable[GeneratedLine],
    *,
    with_orders: bool,
    rejected: Mapping[str, tuple[int | str, str]],
    sent_at: datetime | None,
) -> Iterator[Expected]:
    """What each sent guest should look like in CDP, as designed (before any mapping rule).

    `rejected` maps record refs (guests' and orders') to the upload's code and message.
    """
    for line in lines:
        guest = line.guest
        fields = guest_fields(guest, line.nested)
        orders = [order.value for order in line.orders]
        if with_orders:
            for order in line.orders:
                order_fields(order.value, order.nested, order.items, fields)
        rejection = rejected.get(line.ref)
        yield Expected(
            key=line.key,
            email=guest.get("email"),
            fields=fields,
            sent_at=sent_at,
            rejected=rejection,
            order_dates=order_dates(orders),
            rejected_orders={
                order.value["referenceId"]: rejected[order.ref]
                for order in line.orders
                if with_orders and order.ref in rejected
            },
        )
