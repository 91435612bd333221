"""The live preview's job body and the findings it lists: Qt-free, so it runs off the UI thread and is unit-testable.

Findings come from four places, each tied, where it can be, to the schema path of the field at fault:
the schema's own validation, CDP's key limits (`check_schema`), values that cannot be generated (a Faker
provider that does not exist), and the CDP linter on the sample records.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cdp_poc_studio.domain.flatten import possible_keys
from cdp_poc_studio.domain.lint import lint_record
from cdp_poc_studio.domain.progress import CancelToken, ProgressReport
from cdp_poc_studio.domain.progress import ProgressCallback as Report
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_check import check_schema
from cdp_poc_studio.generator.records import GeneratedGuest, Generator
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.generator.values import SchemaValueError

_INDEX = re.compile(r"\[\d*\]")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem for the findings list; `schema_path` (like `guest.ext.address.city`) links it to the tree."""

    message: str
    schema_path: str | None = None
    source: str = "schema"  # schema, limits, values, lint, settings

    def __str__(self) -> str:
        return f"{self.schema_path}: {self.message}" if self.schema_path else self.message


def tree_path(schema_path: str) -> str:
    """A schema path with list indexes collapsed to `[]`, the way the tree names a list's item."""
    return _INDEX.sub("[]", schema_path)


def validation_findings(exc: ValidationError, prefix: str = "") -> list[Finding]:
    """Pydantic's errors on an ExtensionSchema as findings at the field they concern."""
    found = []
    for error in exc.errors():
        parts: list[str] = []
        for part in error["loc"]:
            if part == "fields":
                continue
            if part == "item":
                parts[-1:] = [f"{parts[-1]}[]"] if parts else ["[]"]
                continue
            parts.append(str(part))
        path = ".".join(parts) if parts else None
        if path and prefix:
            path = f"{prefix}.{path}"
        found.append(Finding(error["msg"].removeprefix("Value error, "), path, "schema"))
    return found


def limit_findings(schema: ExtensionSchema, api: str = "batch") -> list[Finding]:
    return [Finding(v.message, tree_path(v.path), "limits") for v in check_schema(schema, api=api)]


@dataclass
class PreviewResult:
    guests: list[GeneratedGuest]
    findings: list[Finding]
    seconds: float
    run_tag: str
    # Per guest index: the number of lint findings on its records.
    lint_counts: list[int] = field(default_factory=list)

    @property
    def orders(self) -> int:
        return sum(len(g.orders) for g in self.guests)


def _key_owners(schema: ExtensionSchema) -> dict[tuple[str, str, str], str]:
    """(entity, group, flat key) -> the schema path that produces the key."""
    owners: dict[tuple[str, str, str], str] = {}
    for entity, groups in (("guest", schema.guest), ("order", schema.order), ("order_item", schema.order_item)):
        for group, fields in groups.items():
            for flat in possible_keys(schema, entity, group, fields):
                owners.setdefault((entity, group, flat.key), tree_path(flat.schema_path))
    return owners


_EXT_PATH = re.compile(r"^value(?:\.orderItems\[\d+\])?\.extensions\[(\d+)\](?:\.(\w+))?")


def _lint_schema_path(record: dict[str, Any], path: str, owners: dict[tuple[str, str, str], str]) -> str | None:
    match = _EXT_PATH.match(path)
    if not match:
        return None
    entity = "guest" if record.get("schema") == "guest" else ("order_item" if ".orderItems[" in path else "order")
    value = record.get("value", {})
    holder = value
    if entity == "order_item":
        item_index = int(path.split(".orderItems[", 1)[1].split("]", 1)[0])
        holder = (value.get("orderItems") or [{}])[item_index]
    groups = holder.get("extensions") or []
    index = int(match.group(1))
    if index >= len(groups):
        return None
    group = str(groups[index].get("name"))
    key = match.group(2)
    if key is None:
        return f"{entity}.{group}"
    return owners.get((entity, group, key), f"{entity}.{group}")


class GeneratorCache:
    """The last generator built, reused while the settings and schema stay the same.

    Building one (Faker pools) is most of a preview's cost, and its CPU time on a worker thread competes with the
    UI thread for the GIL; a preview that only redraws or changes the sample size should not pay it again.
    Generators are safe to share between jobs: `guests()` starts its own random stream on every call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: str | None = None
        self._generator: Generator | None = None

    def get(self, settings: GeneratorSettings, schema: ExtensionSchema) -> Generator:
        key = settings.model_dump_json() + schema.model_dump_json()
        with self._lock:
            if self._key == key and self._generator is not None:
                return self._generator
        generator = Generator(settings, schema)
        with self._lock:
            self._key, self._generator = key, generator
        return generator


def generate_preview(
    settings: GeneratorSettings,
    schema: ExtensionSchema,
    count: int,
    api: str,
    report: Report,
    cancel: CancelToken,
    cache: GeneratorCache | None = None,
) -> PreviewResult:
    """The first `count` guests exactly as a full run makes them, with every linter finding on their records."""
    started = time.perf_counter()
    report(ProgressReport("preview", 0, count, message="preparing the generator"))
    try:
        generator = (cache or GeneratorCache()).get(settings, schema)
    except SchemaValueError as exc:
        text = str(exc)
        path, _, message = text.partition(": ")
        return PreviewResult([], [Finding(message or text, tree_path(path) if message else None, "values")], 0.0, "")
    owners = _key_owners(schema)
    guests: list[GeneratedGuest] = []
    findings: list[Finding] = []
    counts: list[int] = []
    seen: set[tuple[str | None, str]] = set()
    for guest in generator.guests(0, min(count, settings.guests)):
        cancel.raise_if_cancelled()
        guests.append(guest)
        n = 0
        for record in guest.records():
            for violation in lint_record(record, "rest" if api == "rest" else "batch"):
                n += 1
                schema_path = _lint_schema_path(record, violation.path, owners)
                key = (schema_path, violation.rule)
                if key not in seen:  # one line per rule and field, not one per record
                    seen.add(key)
                    findings.append(
                        Finding(f"guest {guest.seq}: {violation.path}: {violation.message}", schema_path, "lint")
                    )
        counts.append(n)
        if len(guests) % 10 == 0:
            report(ProgressReport("preview", len(guests), count, message="generating"))
    return PreviewResult(guests, findings, time.perf_counter() - started, generator.run_tag, counts)
