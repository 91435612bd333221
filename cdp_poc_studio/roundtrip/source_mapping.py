"""Mapping sources to CDP targets: the rows the Map page shows, suggestions, and validation against CDP's rules.

Qt-free. A source is either the generated data (wire paths of the design, mapped one to one unless the scenario
says otherwise) or a sample of the customer's own data, whose columns are suggested a target here and mapped
with transforms by `roundtrip.source`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cdp_poc_studio.domain.limits import GUEST_EXTENSION_NAMES, MAX_EXTENSION_KEYS
from cdp_poc_studio.roundtrip.payloads import GUEST_ATTRIBUTES, LIST_ATTRIBUTES

SKIP = "(not sent)"
IDENTIFIER = "identifiers.id"
EXT_TARGET = re.compile(r"^(ext[1-5]?)\.([A-Za-z0-9_]*)$")
EXT_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")

_SYNONYMS = {
    "email": ("email", "emailaddress", "mail", "emailid", "eMail"),
    "firstName": ("firstname", "givenname", "fname", "forename", "first"),
    "lastName": ("lastname", "surname", "familyname", "lname", "last"),
    "title": ("title", "salutation"),
    "gender": ("gender", "sex"),
    "dateOfBirth": ("dateofbirth", "dob", "birthdate", "birthday"),
    "phoneNumbers": ("phone", "phonenumber", "phonenumbers", "mobile", "telephone", "tel", "mobilenumber"),
    "street": ("street", "address", "addressline1", "streetaddress", "address1"),
    "city": ("city", "town"),
    "state": ("state", "province", "county", "region"),
    "country": ("country", "countrycode"),
    "postCode": ("postcode", "zip", "zipcode", "postalcode"),
    "nationality": ("nationality",),
    "language": ("language", "lang", "locale"),
    "passportNumber": ("passportnumber", "passport"),
    IDENTIFIER: ("id", "customerid", "customerno", "customernumber", "memberid", "crmid", "externalid"),
}
_BY_NAME = {alias.lower(): target for target, aliases in _SYNONYMS.items() for alias in aliases}


def camel_case(name: str) -> str:
    """A column name as a CDP extension key: `Loyalty Tier` and `loyalty_tier` become `loyaltyTier`."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])", name.strip()) if w]
    if not words:
        return "field"
    key = words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])
    return key if key[0].isalpha() else f"f{key}"


def suggest_target(source: str) -> str:
    """The CDP field a source most likely belongs to: a guest attribute by name, else a key of `ext`."""
    leaf = source.rsplit(".", 1)[-1]
    normalised = re.sub(r"[^a-z0-9]", "", leaf.lower())
    if normalised in _BY_NAME:
        return _BY_NAME[normalised]
    return f"ext.{camel_case(source)}"


def target_choices(extra: Iterable[str] = ()) -> list[str]:
    """What the target column offers: skip, the identifier, the guest attributes, then extension keys."""
    attributes = [a for a in GUEST_ATTRIBUTES if a != "guestType"]
    return [SKIP, IDENTIFIER, *attributes, *sorted(set(extra))]


def validate_targets(targets: Mapping[str, str], values: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Problems by source: unknown attributes, bad extension keys, duplicate targets, CDP's key limits."""
    problems: dict[str, str] = {}
    seen: dict[str, str] = {}
    key_owner: dict[str, str] = {}
    counts: dict[str, int] = {}
    for source, target in targets.items():
        if target in ("", SKIP):
            continue
        if target in seen:
            problems[source] = f"{seen[target]} already goes to {target}: CDP would keep only one of them"
            continue
        seen[target] = source
        match = EXT_TARGET.match(target)
        if target == IDENTIFIER:
            continue
        if match is None:
            if target not in GUEST_ATTRIBUTES:
                problems[source] = (
                    f"{target!r} is not a guest attribute; choose one from the list, or ext..ext5 and a key "
                    "(ext.loyaltyTier)"
                )
            elif values is not None and isinstance(values.get(source), (dict, list)) and target not in LIST_ATTRIBUTES:
                problems[source] = f"{target} takes one value, and this source holds a nested value"
            continue
        group, key = match.groups()
        if group not in GUEST_EXTENSION_NAMES:
            problems[source] = f"{group} is not an extension group; use ext or ext1..ext5"
        elif not EXT_KEY.match(key):
            problems[source] = (
                f"extension key {key!r} must be alphanumeric camelCase starting with a lowercase letter "
                f"(try {camel_case(key)!r})"
            )
        elif key in key_owner and key_owner[key] != group:
            problems[source] = (
                f"key {key!r} is already in {key_owner[key]}: keys must be unique across a guest's groups"
            )
        elif values is not None and isinstance(values.get(source), (dict, list)):
            problems[source] = "extension values must be flat primitives: map the nested parts one by one"
        else:
            key_owner[key] = group
            counts[group] = counts.get(group, 0) + 1
            if counts[group] > MAX_EXTENSION_KEYS:
                problems[source] = f"{group} would hold more than {MAX_EXTENSION_KEYS} keys, CDP's limit"
    return problems


def guest_sources(guest: Mapping[str, Any]) -> dict[str, Any]:
    """The wire paths of a generated guest (attributes and extension keys) with their values."""
    sources: dict[str, Any] = {}
    for key, value in guest.items():
        if key in ("extensions", "guestType"):
            continue
        sources[key] = value
    for group in guest.get("extensions") or []:
        for key, value in group.items():
            if key not in ("name", "key"):
                sources[f"{group['name']}.{key}"] = value
    return sources
