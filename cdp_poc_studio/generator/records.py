"""The generator: guests with identifiers and extensions; their orders, contacts, items and extensions.

Output is CDP batch envelopes (plain dicts, wire format), streamed one guest at a time, so memory does not
grow with the count. Beside each wire record the nested extension values are kept, so that a round trip can
compare what CDP returns, unflattened, with what was designed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cdp_poc_studio.domain.flatten import flatten_group
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.generator.locales import LOCALES, LocaleFacts
from cdp_poc_studio.generator.pools import (
    LocalePool,
    ProductPool,
    build_locale_pool,
    build_product_pool,
    faker_for,
)
from cdp_poc_studio.generator.sampling import Weighted, between, pick
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.generator.values import ValueFactory


@dataclass(slots=True)
class GeneratedOrder:
    record: dict[str, Any]
    nested_extension: dict[str, Any] | None = None
    nested_item_extensions: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass(slots=True)
class GeneratedGuest:
    seq: int
    locale: str
    record: dict[str, Any]
    nested_extensions: dict[str, dict[str, Any]]
    orders: list[GeneratedOrder]

    @property
    def guest(self) -> dict[str, Any]:
        value: dict[str, Any] = self.record["value"]
        return value

    @property
    def identifier(self) -> dict[str, str]:
        identifier: dict[str, str] = self.guest["identifiers"][0]
        return identifier

    def records(self) -> Iterator[dict[str, Any]]:
        """The guest's batch lines: the guest first, so its orders' contacts resolve to it."""
        yield self.record
        for order in self.orders:
            yield order.record


GENDERS = Weighted.of({"female": 48, "male": 48, "unknown": 4})
TITLES = {
    "female": Weighted.of({"Ms": 50, "Mrs": 30, "Miss": 12, "Dr": 8}),
    "male": Weighted.of({"Mr": 92, "Dr": 8}),
}
CHANNELS = Weighted.of({"WEB": 50, "MOBILE_APP": 20, "MOBILE_WEB": 15, "CALL_CENTER": 5, "BRANCH": 5, "OFFLINE": 5})
STATUSES = Weighted.of({"PURCHASED": 70, "CONFIRMED": 15, "REFUNDED": 5, "CANCELLED": 5, "PAYMENT_PENDING": 5})
PAYMENTS = Weighted.of({"Card": 70, "Paypal": 15, "Voucher": 5, "Cash": 5, "Other": 5})
CARDS = Weighted.of({"Visa": 55, "Mastercard": 35, "Amex": 10})
TWO_YEARS = 2 * 365 * 86_400


class Generator:
    """Seeded generator of CDP guests and orders. Build once (pools cost about a second), then iterate."""

    def __init__(self, settings: GeneratorSettings, schema: ExtensionSchema | None = None) -> None:
        self.settings = settings
        self.schema = schema or ExtensionSchema()
        self.run_tag = settings.effective_run_tag
        pool_rng = random.Random(f"pools:{settings.seed}")
        fakers = {locale: faker_for(locale, pool_rng.getrandbits(32)) for locale in settings.locales}
        self._locales = [
            (locale, LOCALES[locale], build_locale_pool(faker, settings.pool_size)) for locale, faker in fakers.items()
        ]
        first_faker = next(iter(fakers.values()))
        self._products: ProductPool = build_product_pool(first_faker, settings.pool_size, pool_rng)
        anchor = settings.effective_anchor
        self._values = ValueFactory(fakers, anchor)
        for entity, groups in (
            ("guest", self.schema.guest),
            ("order", self.schema.order),
            ("order_item", self.schema.order_item),
        ):
            for group, fields in groups.items():
                self._values.prepare(fields, f"{entity}.{group}")
        self._anchor_ordinal = anchor.toordinal()
        self._anchor_moment = datetime(anchor.year, anchor.month, anchor.day, tzinfo=UTC)

    def guests(self, start: int = 0, stop: int | None = None) -> Iterator[GeneratedGuest]:
        """Guests `start` to `stop` (default: all), the same as in a full run.

        One random stream runs through all guests (seeding a generator per guest would cost a quarter of the
        time), so a slice is reached by generating the guests before it, about 60,000 a second.
        """
        stop = self.settings.guests if stop is None else min(stop, self.settings.guests)
        rng = random.Random(self.settings.seed)
        for seq in range(stop):
            guest = self._guest(seq, rng)
            if seq >= start:
                yield guest

    def _guest(self, seq: int, rng: random.Random) -> GeneratedGuest:
        locale, facts, pool = pick(rng, self._locales)
        value, nested = self._guest_value(seq, rng, facts, pool, locale)
        record = {"ref": _uuid(rng, seq, 0), "schema": "guest", "mode": "upsert", "value": value}
        orders = [
            self._order(seq, n, rng, facts, value, locale) for n in range(self.settings.orders_per_guest.sample(rng))
        ]
        return GeneratedGuest(seq, locale, record, nested, orders)

    def _guest_value(
        self, seq: int, rng: random.Random, facts: LocaleFacts, pool: LocalePool, locale: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        gender = GENDERS.pick(rng)
        female = gender == "female" or (gender == "unknown" and rng.random() < 0.5)
        first = pick(rng, pool.female_names if female else pool.male_names)
        last = pick(rng, pool.last_names)
        local = f"{first.slug}.{last.slug}" if first.slug and last.slug else "guest"
        email = f"{local}.{seq}@{self.settings.email_domain}"
        street = [pick(rng, pool.streets)]
        if pool.secondary and rng.random() < 0.3:
            street.append(pick(rng, pool.secondary))
        birth = self._anchor_ordinal - between(rng, 18 * 365, 85 * 365)
        expiry = self._anchor_ordinal + between(rng, 30, 10 * 365)
        value: dict[str, Any] = {"guestType": "customer"}
        if gender in TITLES:
            value["title"] = TITLES[gender].pick(rng)
        value |= {
            "firstName": first.name,
            "lastName": last.name,
            "gender": gender,
            "dateOfBirth": _day(birth),
            "email": email,
            "phoneNumbers": [pick(rng, pool.phones)],
            "nationality": facts.nationality,
            "passportNumber": pick(rng, pool.passports),
            "passportExpiry": _day(expiry),
            "street": street,
            "city": pick(rng, pool.cities),
        }
        if pool.states:
            value["state"] = pick(rng, pool.states)
        value |= {
            "country": facts.country,
            "postCode": pick(rng, pool.post_codes),
            "language": facts.language,
            "identifiers": [{"provider": self.settings.identifier_provider, "id": f"{self.run_tag}-{seq:07d}"}],
        }
        nested: dict[str, dict[str, Any]] = {}
        extensions = []
        for group, fields in self.schema.guest.items():
            nested[group] = self._values.group(fields, rng, locale)
            flat = flatten_group(self.schema, fields, nested[group])
            if flat:
                extensions.append({"name": group, "key": "default", **flat})
        if extensions:
            value["extensions"] = extensions
        return value, nested

    def _order(
        self,
        seq: int,
        number: int,
        rng: random.Random,
        facts: LocaleFacts,
        guest: dict[str, Any],
        locale: str,
    ) -> GeneratedOrder:
        reference = f"{self.run_tag}-{seq:07d}-{number + 1}"
        moment = self._anchor_moment - timedelta(seconds=between(rng, 3600, TWO_YEARS))
        ordered_at = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        status = STATUSES.pick(rng)
        generated = GeneratedOrder(record={})
        items, total_cents = [], 0
        for index in range(max(1, self.settings.items_per_order.sample(rng))):
            item, cents = self._item(rng, facts, reference, index, ordered_at, status)
            total_cents += cents
            if self.schema.order_item:
                fields = self.schema.order_item["ext"]
                nested_item = self._values.group(fields, rng, locale)
                flat = flatten_group(self.schema, fields, nested_item)
                if flat:
                    item["extensions"] = [{"name": "ext", "key": "default", **flat}]
                generated.nested_item_extensions.append(nested_item)
            items.append(item)
        payment = PAYMENTS.pick(rng)
        order: dict[str, Any] = {
            "referenceId": reference,
            "channel": CHANNELS.pick(rng),
            "pointOfSale": self.settings.point_of_sale,
            "status": status,
            "orderedAt": ordered_at,
            "currencyCode": facts.currency,
            "price": total_cents / 100,
            "paymentType": payment,
        }
        if payment == "Card":
            order["cardType"] = CARDS.pick(rng)
        # The contact carries the guest's identifiers, so CDP's identity rules link the order to the guest.
        order["contact"] = {
            "firstName": guest["firstName"],
            "lastName": guest["lastName"],
            "emails": [guest["email"]],
            "identifiers": [dict(identifier) for identifier in guest["identifiers"]],
        }
        consumers = self.settings.consumers_per_order.sample(rng)
        if consumers:
            order["consumers"] = self._consumers(consumers, rng, guest, locale)
        order["orderItems"] = items
        if self.schema.order:
            fields = self.schema.order["ext"]
            generated.nested_extension = self._values.group(fields, rng, locale)
            flat = flatten_group(self.schema, fields, generated.nested_extension)
            if flat:
                order["extensions"] = [{"name": "ext", "key": "default", **flat}]
        generated.record = {"ref": _uuid(rng, seq, number + 1), "schema": "order", "mode": "insert", "value": order}
        return generated

    def _consumers(self, count: int, rng: random.Random, guest: dict[str, Any], locale: str) -> list[dict[str, Any]]:
        """The guest first (linked by its identifiers), then companions known by first and last name only."""
        consumers: list[dict[str, Any]] = [{
            "firstName": guest["firstName"],
            "lastName": guest["lastName"],
            "identifiers": [dict(identifier) for identifier in guest["identifiers"]],
        }]  # fmt: skip
        pool = next(p for name, _, p in self._locales if name == locale)
        for _ in range(count - 1):
            first = pick(rng, pool.female_names if rng.random() < 0.5 else pool.male_names)
            consumers.append({"firstName": first.name, "lastName": pick(rng, pool.last_names).name})
        return consumers

    def _item(
        self, rng: random.Random, facts: LocaleFacts, reference: str, index: int, ordered_at: str, status: str
    ) -> tuple[dict[str, Any], int]:
        products = self._products
        product = int(rng.random() * len(products.names))
        quantity = rng.choices((1, 2, 3), cum_weights=(80, 95, 100))[0]
        unit_cents = between(rng, 500, 50_000)
        item = {
            "type": self.settings.item_type,
            "productId": f"SKU-{product:05d}",
            "name": products.names[product],
            "description": products.descriptions[product],
            "vendor": products.vendors[product % len(products.vendors)],
            "orderedAt": ordered_at,
            "quantity": quantity,
            "price": unit_cents / 100,
            "currencyCode": facts.currency,
            "referenceId": f"{reference}-{index + 1}",
            "status": status,
        }
        return item, unit_cents * quantity


def _uuid(rng: random.Random, seq: int, position: int) -> str:
    """A version 4 UUID from the seeded generator whose first 48 bits count the records in generation order.

    Refs that grow with the run keep every index on them append-only: the run ledger's inserts stay flat to
    millions of rows, where random refs slowed them to a crawl past a few million. The other 74 bits stay random
    (seeded), so runs with different seeds never share a ref and the same seed gives the same refs.
    """
    order = (seq << 12 | position) & 0xFFFF_FFFF_FFFF
    n = rng.getrandbits(128) & ((1 << 80) - 1) | order << 80
    n = (n & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=65_536)
def _day(ordinal: int) -> str:
    # The Batch API wants dates without milliseconds; this is the form of its own examples.
    return datetime.fromordinal(ordinal).strftime("%Y-%m-%dT00:00Z")
