"""Mapping sources to CDP targets: the rows the Map page shows, suggestions, and validation against CDP's rules.

Qt-free. A source is either the generated data (wire paths of the design, mapped one to one unless the scenario
says otherwise) or a sample of the customer's own data imported from CSV or JSON (columns mapped by suggestion,
then by the user).
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_poc_studio.domain.limits import GUEST_EXTENSION_NAMES, MAX_EXTENSION_KEYS
from cdp_poc_studio.roundtrip.payloads import GUEST_ATTRIBUTES, LIST_ATTRIBUTES

SKIP = "(not sent)"
IDENTIFIER = "identifiers.id"
EXT_TARGET = re.compile(r"^(ext[1-5]?)\.([A-Za-z0-9_]*)$")
EXT_KEY = re.compile(r"^[a-z][A-Za-z0-9]*$")
MAX_SAMPLE_ROWS = 1000

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


@dataclass
class ImportedSample:
    """A sample of the customer's own records: columns (dotted paths for nested JSON) and rows."""

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool = False
    targets: dict[str, str] = field(default_factory=dict)


class SampleError(ValueError):
    """The file cannot be read as a sample; the message says why and what the studio expects."""


def read_sample(path: Path, limit: int = MAX_SAMPLE_ROWS) -> ImportedSample:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path.name} cannot be read: {exc}") from None
    if path.suffix.lower() in (".json", ".ndjson", ".jsonl") or text.lstrip().startswith(("[", "{")):
        rows = _json_rows(text, path)
    else:
        rows = _csv_rows(text, path)
    if not rows:
        raise SampleError(f"{path.name} holds no records")
    truncated = len(rows) > limit
    rows = rows[:limit]
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    sample = ImportedSample(path, columns, rows, truncated)
    sample.targets = {column: suggest_target(column) for column in columns}
    # Two columns suggesting the same attribute: keep the first, send the other to an extension key.
    used: set[str] = set()
    for column, target in sample.targets.items():
        if target in used:
            sample.targets[column] = f"ext.{camel_case(column)}"
        used.add(sample.targets[column])
    return sample


def _csv_rows(text: str, path: Path) -> list[dict[str, Any]]:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;|\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames:
        raise SampleError(f"{path.name}: a CSV sample needs a header line naming the columns")
    return [{k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")} for row in reader]


def _json_rows(text: str, path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise SampleError(f"{path.name} is neither JSON nor one JSON object per line: {exc}") from None
    if not all(isinstance(item, dict) for item in items):
        raise SampleError(f"{path.name}: expected a list of JSON objects, one per customer")
    return [_flatten(item) for item in items]


def _flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in item.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        elif value is not None:
            flat[path] = value
    return flat


def _typed(value: Any) -> Any:
    """CSV cells arrive as text; numbers and booleans go to CDP as numbers and booleans."""
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _attribute(target: str, value: Any) -> Any:
    if target in LIST_ATTRIBUTES:
        return value if isinstance(value, list) else [str(value)]
    if target == "gender" and isinstance(value, str):
        return value.strip().lower()
    if target == "dateOfBirth" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return f"{value.strip()}T00:00Z"
    return value if isinstance(value, (str, int, float, bool)) else json.dumps(value)


def build_guest_record(row: Mapping[str, Any], targets: Mapping[str, str], provider: str, seq: int) -> dict[str, Any]:
    """A batch envelope for one imported row, as the mapping says."""
    value: dict[str, Any] = {"guestType": "customer"}
    groups: dict[str, dict[str, Any]] = {}
    for source, target in targets.items():
        if source not in row or target in ("", SKIP):
            continue
        raw = row[source]
        match = EXT_TARGET.match(target)
        if target == IDENTIFIER:
            value["identifiers"] = [{"provider": provider, "id": str(raw)}]
        elif match:
            groups.setdefault(match.group(1), {})[match.group(2)] = _typed(raw)
        else:
            value[target] = _attribute(target, raw)
    if groups:
        value["extensions"] = [{"name": name, "key": "default", **keys} for name, keys in groups.items()]
    ref = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdp-poc-studio:import:{seq}:{json.dumps(row, default=str)}"))
    return {"ref": ref, "schema": "guest", "mode": "upsert", "value": value}


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
