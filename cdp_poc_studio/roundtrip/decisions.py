"""The "decisions" verification source: the generated JavaScript snippets, run against every guest read back.

Each guest that came back through REST is put in the `guest` shape a Personalize programmable decision sees
(`guest.dataExtensions` as `{name, key, values}`, `guest.orders` each with its own `dataExtensions`), and every
JavaScript snippet of roundtrip.snippets runs on it in V8 (mini-racer): the Map decisions, each leaf accessor,
each decision template with its form defaults, and each audience export Advanced-mode snippet. What they return
is compared with the nested value as sent, by the same `compare` and classifications as the other sources.

Field paths say which snippet answered: `ext.address.city` is the Map decision's, `ext.address.city@accessor`
the accessor's (list items at index 0, orders from the latest one), `...@template` and `...@export` the others. A
snippet that throws is a finding with the guest, the path, the snippet's file and the error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from cdp_poc_studio.cdp.readback import extension_values
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.generated import expected_records
from cdp_poc_studio.roundtrip.run_folder import (
    GeneratedLine,
    GeneratedOrderLine,
    ReadbackLine,
    read_generated,
    read_readback,
)
from cdp_poc_studio.roundtrip.snippets import NestedField, Snippet, nested_fields, snippets_for, with_defaults
from cdp_poc_studio.roundtrip.verify import Comparison, Expected, Returned, SourceRules, compare, leaves

CHUNK = 500
_INDEX = re.compile(r"\[\d+\]")
_ORDER = re.compile(r"^orders\.[^.]+\.")
_MARKERS = {"accessor": "@accessor", "template": "@template", "export": "@export"}


class SnippetEngine:
    """V8 with the snippets compiled once, run over guests a chunk at a time (one call into V8 per chunk)."""

    def __init__(self, snippets: list[Snippet]) -> None:
        from py_mini_racer import MiniRacer

        self.snippets = [s for s in snippets if s.language == "javascript"]
        self._v8 = MiniRacer()
        functions = []
        for snippet in self.snippets:
            code = with_defaults(snippet.code) if snippet.kind == "template" else snippet.code
            body = code.strip()
            if not (body.startswith("(function") and body.endswith(");")):
                raise ValueError(f"{snippet.file}: a snippet must be one immediately invoked function")
            # The snippet is one expression statement: returning it gives the decision's value.
            functions.append("new Function('guest', " + orjson.dumps("return " + body[:-1]).decode() + ")")
        self._v8.eval(
            "var __snippets = [" + ",\n".join(functions) + "];\n"
            "function __run(guests) {\n"
            "  var out = [];\n"
            "  for (var g = 0; g < guests.length; g++) {\n"
            "    var row = [];\n"
            "    for (var s = 0; s < __snippets.length; s++) {\n"
            "      try { row.push({v: __snippets[s](guests[g])}); }\n"
            "      catch (e) { row.push({e: String(e)}); }\n"
            "    }\n"
            "    out.push(row);\n"
            "  }\n"
            "  return JSON.stringify(out);\n"
            "}\n"
        )

    def run(self, guests: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """For each guest, each snippet's `{"v": value}` or `{"e": error}` (Dates as ISO text, as JSON gives them)."""
        if not guests:
            return []
        text = self._v8.eval("__run(" + orjson.dumps(guests).decode() + ")")
        assert isinstance(text, str)
        result: list[list[dict[str, Any]]] = orjson.loads(text)
        return result

    def close(self) -> None:
        self._v8.close()


def personalize_guest(line: ReadbackLine) -> dict[str, Any]:
    """A read-back line as the `guest` object of a Personalize decision.

    [INF] Personalize documents `guest.dataExtensions[i].{name, key, values}`; that orders sit in `guest.orders`
    with the same `dataExtensions` shape is inferred.
    """
    back = line.guest
    assert back is not None, "only guests CDP returned have a Personalize shape"
    guest = {k: v for k, v in back.data.items() if k not in ("dataExtensions", "extensions", "orders")}
    guest["ref"] = back.ref
    guest["dataExtensions"] = [
        {"name": name, "key": flat.get("key", "default"), "values": extension_values(flat)}
        for name, flat in back.extensions.items()
    ]
    guest["orders"] = [
        {
            **order.data,
            "dataExtensions": (
                [{"name": "ext", "key": "default", "values": extension_values(order.extension)}]
                if order.extension
                else []
            ),
        }
        for order in line.orders
    ]
    return guest


@dataclass(slots=True)
class _Plan:
    """Which snippet fills which field paths, and what each leaf accessor expects."""

    schema: ExtensionSchema
    fields: list[NestedField]
    snippets: list[Snippet]
    floats: set[str] = field(default_factory=set)
    _patterns: dict[str, str] = field(default_factory=dict)

    def expected_fields(self, line: GeneratedLine, rejected_orders: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        skip = set(rejected_orders)
        orders = [o for o in line.orders if o.value["referenceId"] not in skip]
        latest = _latest(orders)
        for nested in self.fields:
            if nested.entity == "guest":
                value = line.nested.get(nested.group, {}).get(nested.name)
                if value is not None:
                    _leaves_into(nested.path, value, out, "")
                    _leaves_into(nested.path, value, out, _MARKERS["template"])
                    _leaves_into(nested.path, value, out, _MARKERS["export"])
                source = value
            else:
                for order in orders:
                    value = (order.nested or {}).get(nested.name)
                    if value is not None:
                        prefix = f"orders.{order.value['referenceId']}.{nested.path}"
                        for marker in ("", _MARKERS["template"], _MARKERS["export"]):
                            _leaves_into(prefix, value, out, marker)
                source = (latest.nested or {}).get(nested.name) if latest else None
            for leaf in nested.leaves():
                sent = _at(source, leaf.steps)
                path = nested.display + leaf.path()
                out[path + _MARKERS["accessor"]] = sent
                out[path + _MARKERS["accessor"] + _MARKERS["template"]] = sent
        return out

    def returned_fields(self, results: list[dict[str, Any]], errors: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for snippet, result in zip(self.snippets, results, strict=True):
            if "e" in result:
                errors[snippet.file] = result["e"]
                continue
            value = result.get("v")
            nested = snippet.field.removeprefix("orders.*.")
            template = _MARKERS["template"] if snippet.kind == "template" else ""
            if snippet.leaf is not None:
                path = snippet.leaf + _MARKERS["accessor"] + template
                if snippet.leaf in self.floats and isinstance(value, str):
                    # A float accessor returns text (Personalize has no float return type): read it as a number.
                    value = _float_or_text(value)
                out[path] = value
            elif snippet.kind in ("decision", "template"):
                group = nested.split(".", 1)[0]
                for key, item in value.items() if isinstance(value, dict) else ():
                    # Guests: {<field key>: value}; orders: {<referenceId>: value}.
                    where = f"orders.{key}.{nested}" if snippet.field.startswith("orders.") else f"{group}.{key}"
                    _leaves_into(where, item, out, template)
            elif snippet.kind == "export" and isinstance(value, dict):
                group, name = nested.split(".", 1)
                if snippet.field.startswith("orders."):
                    for entry in value.get("orders") or []:
                        if isinstance(entry, dict) and entry.get(name) is not None:
                            _leaves_into(
                                f"orders.{entry.get('referenceId')}.{group}.{name}", entry[name], out, "@export"
                            )
                elif value.get(name) is not None:
                    _leaves_into(f"{group}.{name}", value[name], out, "@export")
        # JavaScript has one number type: JSON writes 40.0 as 40. A whole number where the schema has a float
        # is that float, not a changed type.
        for path, item in out.items():
            if type(item) is int and self._is_float(path):
                out[path] = float(item)
        return out

    def _is_float(self, path: str) -> bool:
        pattern = self._patterns.get(path)
        if pattern is None:
            pattern = _INDEX.sub("[0]", _ORDER.sub("orders.*.", path.split("@", 1)[0]))
            if len(self._patterns) < 100_000:
                self._patterns[path] = pattern
        return pattern in self.floats

    def snippet_for(self, path: str) -> str:
        """The file of the snippet that answers for a field path."""
        pattern = re.sub(r"^orders\.[^.]+\.", "orders.*.", path)
        marker = next((m for m in ("@accessor@template", "@accessor", "@template", "@export") if m in pattern), "")
        base = pattern.split("@", 1)[0]
        kind = {"@accessor": "accessor", "@accessor@template": "template", "@template": "template", "@export": "export"}
        wanted = kind.get(marker, "decision")
        for snippet in self.snippets:
            if snippet.kind != wanted:
                continue
            if marker.startswith("@accessor") and snippet.leaf is not None and _same_leaf(snippet.leaf, base):
                return snippet.file
            if not marker.startswith("@accessor") and snippet.leaf is None and _under(base, snippet.field):
                return snippet.file
        return ""


def _same_leaf(leaf: str, path: str) -> bool:
    return re.sub(r"\[\d+\]", "[0]", leaf) == re.sub(r"\[\d+\]", "[0]", path)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def _leaves_into(prefix: str, value: Any, out: dict[str, Any], marker: str) -> None:
    found: dict[str, Any] = {}
    leaves(prefix, value, found)
    if marker:
        out.update((path + marker, v) for path, v in found.items())
    else:
        out.update(found)


def _at(value: Any, steps: tuple[str | None, ...]) -> Any:
    for step in steps:
        if value is None:
            return None
        if step is None:
            value = value[0] if isinstance(value, list) and value else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _latest(orders: list[GeneratedOrderLine]) -> GeneratedOrderLine | None:
    latest: GeneratedOrderLine | None = None
    latest_at: datetime | None = None
    for order in orders:
        when = _moment(order.value.get("orderedAt"))
        if latest is None or (when is not None and (latest_at is None or when > latest_at)):
            latest, latest_at = order, when
    return latest


def _moment(text: Any) -> datetime | None:
    from cdp_poc_studio.domain.lint import parse_timestamp

    return parse_timestamp(text)


def _float_or_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def has_nested_fields(schema: ExtensionSchema) -> bool:
    return bool(nested_fields(schema))


def compare_decisions(
    schema: ExtensionSchema,
    generated: Path,
    readback: Path,
    rules: SourceRules,
    *,
    rejected: Mapping[str, tuple[Any, str]],
    sent_at: datetime | None,
    with_orders: bool = True,
) -> Comparison:
    """Run every JavaScript snippet on every guest read back and compare with the nested values as sent."""
    fields = nested_fields(schema)
    if not with_orders:
        fields = [f for f in fields if f.entity == "guest"]
    snippets = [s for s in snippets_for(schema) if s.language == "javascript" and _kept(s, fields)]
    plan = _Plan(schema, fields, snippets)
    plan.floats = {
        nested.display + leaf.path() for nested in fields for leaf in nested.leaves() if leaf.spec.kind == "float"
    }
    engine = SnippetEngine(snippets)
    returned: dict[str, Returned] = {}
    errors: dict[tuple[str, str], str] = {}

    def expected() -> Iterator[Expected]:
        generated_lines = read_generated(generated)
        readback_lines = read_readback(readback)
        while True:
            chunk = [line for _, line in zip(range(CHUNK), generated_lines, strict=False)]
            if not chunk:
                return
            back = [line for _, line in zip(range(len(chunk)), readback_lines, strict=False)]
            returned.clear()
            found = [b for b in back if b.guest is not None]
            for back_line, results in zip(found, engine.run([personalize_guest(b) for b in found]), strict=True):
                problems: dict[str, str] = {}
                returned[back_line.key] = Returned(plan.returned_fields(results, problems))
                for file, message in problems.items():
                    errors[(back_line.key, file)] = message
            for line, record in zip(chunk, expected_records(chunk, with_orders=with_orders, rejected=rejected,
                                                            sent_at=sent_at), strict=True):  # fmt: skip
                yield Expected(
                    key=record.key,
                    email=record.email,
                    fields=plan.expected_fields(line, record.rejected_orders),
                    sent_at=record.sent_at,
                    rejected=record.rejected,
                    rejected_orders=record.rejected_orders,
                )

    try:
        comparison = compare(expected(), returned, rules)
    finally:
        engine.close()
    for difference in comparison.differences:
        if difference.path == "*":
            continue
        file = plan.snippet_for(difference.path)
        error = errors.get((difference.record, file))
        difference.explanation = f"{file}: " + (f"threw {error}" if error else difference.explanation)
    return comparison


def _kept(snippet: Snippet, fields: list[NestedField]) -> bool:
    return any(snippet.field == f.display for f in fields)
