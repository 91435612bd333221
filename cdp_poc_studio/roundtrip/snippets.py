"""Code that makes nested extension data usable inside CDP, written from the scenario's schema.

CDP keeps only flat primitive key-values in an extension, so a nested field reaches it as prefixed keys
(`addressCity`) or as one JSON string (`preferences`). Sitecore's guidance is that such data is unpacked in
decision models and segmentation with custom JavaScript and SQL; this module writes that code for every nested
field of the schema:

- a Personalize programmable decision (return type Map) that rebuilds the nested value,
- one accessor decision per leaf (String, Boolean, Integer, Long or Date),
- the same decisions as decision templates, with form placeholders for the group, key and list indexes,
- an audience export Advanced-mode snippet whose output record carries the nested value,
- an Athena/Presto SQL query over the data lake export's guests (or orders) entity.

The JavaScript is ES5 (var, function declarations) written as one immediately invoked function over `guest`, as
in Sitecore's examples of programmable decisions; every comment sits inside the function, so the snippet is one
expression statement (roundtrip.decisions relies on that to run it). Choices the documentation leaves open are
marked [INF] in the generated code, so the customer's developers can check them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec, FlattenStrategy

Entity = Literal["guest", "order"]
SnippetKind = Literal["decision", "accessor", "template", "export", "sql"]
ReturnType = Literal["Map", "String", "Boolean", "Integer", "Long", "Date"]
# A step into a nested value: a field name, or None for "an item of a list".
Step = str | None

INT32_MAX = 2**31 - 1
PLACEHOLDER = re.compile(r"\[\[\s*([^|\]]+?)\s*\|\s*(\w+)\s*\|\s*([^|\]]*?)\s*\|[^\]]*\]\]")


def _cap(name: str) -> str:
    return name[0].upper() + name[1:]


def _js_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class Leaf:
    """One primitive inside a nested field, reached by its steps from the field."""

    steps: tuple[Step, ...]
    spec: FieldSpec

    @property
    def lists(self) -> int:
        return sum(step is None for step in self.steps)

    def path(self, index: int = 0) -> str:
        """`.geo.lat` or `[0].channel`: the leaf's path below its field, lists at `index`."""
        return "".join(f"[{index}]" if step is None else f".{step}" for step in self.steps)

    @property
    def slug(self) -> str:
        words = [step or "item" for step in self.steps] or ["value"]
        return words[0] + "".join(_cap(w) for w in words[1:])

    @property
    def return_type(self) -> ReturnType:
        spec = self.spec
        if spec.kind == "bool":
            return "Boolean"
        if spec.kind in ("date", "datetime"):
            return "Date"
        if spec.kind == "int":
            return "Long" if (spec.max or 0) > INT32_MAX or (spec.min or 0) < -INT32_MAX else "Integer"
        sample = spec.value if spec.kind == "const" else None
        if spec.kind == "choice" and spec.choices:
            sample = spec.choices[0]
        if isinstance(sample, bool):
            return "Boolean"
        if isinstance(sample, int):
            return "Integer"
        # Personalize has no floating-point return type: a float comes back as its text, exact to the digit.
        return "String"


@dataclass(frozen=True, slots=True)
class NestedField:
    """A top-level object or list field of an extension group: what CDP cannot hold as it is."""

    entity: Entity
    group: str
    name: str
    spec: FieldSpec
    strategy: FlattenStrategy

    @property
    def path(self) -> str:
        """The field's path in verification (`ext.address`); for orders, below `orders.<referenceId>.`."""
        return f"{self.group}.{self.name}"

    @property
    def display(self) -> str:
        return self.path if self.entity == "guest" else f"orders.*.{self.path}"

    @property
    def slug(self) -> str:
        return f"{self.entity}_{self.group}_{self.name}"

    def leaves(self) -> Iterator[Leaf]:
        yield from _leaves((), self.spec)

    def flat_keys_note(self) -> str:
        if self.strategy == "json":
            return f"serialised as JSON into the key {self.name}"
        example = [leaf for leaf in self.leaves()][:2]
        keys = ", ".join(_flat_key(self.name, leaf.steps) for leaf in example)
        return f"flattened into prefixed keys ({keys}, ...)"


def _leaves(steps: tuple[Step, ...], spec: FieldSpec) -> Iterator[Leaf]:
    if spec.kind == "object":
        assert spec.fields is not None
        for name, sub in spec.fields.items():
            yield from _leaves((*steps, name), sub)
    elif spec.kind == "list":
        assert spec.item is not None
        yield from _leaves((*steps, None), spec.item)
    else:
        yield Leaf(steps, spec)


def _flat_key(name: str, steps: tuple[Step, ...], index: int = 0) -> str:
    key = name
    for step in steps:
        key += str(index) if step is None else _cap(step)
    return key


def nested_fields(schema: ExtensionSchema) -> list[NestedField]:
    """Every nested field of guests and orders, in schema order.

    Order items have no snippets: a decision sees items only through their order, and no bundled schema nests
    data in them; add them here when a scenario needs it.
    """
    found: list[NestedField] = []
    for entity, groups in (("guest", schema.guest), ("order", schema.order)):
        for group, fields in groups.items():
            for name, spec in fields.items():
                if spec.is_composite:
                    found.append(NestedField(entity, group, name, spec, schema.strategy_of(spec)))  # type: ignore[arg-type]
    return found


@dataclass(frozen=True, slots=True)
class Snippet:
    """One piece of generated code, with what it is for."""

    id: str
    kind: SnippetKind
    field: str
    title: str
    code: str
    file: str
    leaf: str | None = None
    return_type: ReturnType | None = None

    @property
    def language(self) -> Literal["javascript", "sql"]:
        return "sql" if self.kind == "sql" else "javascript"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "field": self.field,
            "leaf": self.leaf,
            "title": self.title,
            "returnType": self.return_type,
            "language": self.language,
            "file": self.file,
        }


# ---------------------------------------------------------------- JavaScript


class _Js:
    """The JavaScript of one nested field: its header, locating lines and rebuilding functions."""

    def __init__(self, field: NestedField, *, template: bool) -> None:
        self.field = field
        self.template = template

    def group_line(self) -> str:
        if self.template:
            return f"  var GROUP = '[[Extension group | string | {self.field.group} | {{ required: true }}]]';"
        return f"  var GROUP = {_js_string(self.field.group)};"

    def key_line(self) -> str:
        if self.template:
            return f"  var KEY = '[[Field key | string | {self.field.name} | {{ required: true }}]]';"
        return f"  var KEY = {_js_string(self.field.name)};"

    def index_lines(self, leaf: Leaf) -> list[str]:
        lines = []
        for n in range(1, leaf.lists + 1):
            if self.template:
                lines.append(f"  var INDEX{n} = [[List index {n} | number | 0 | {{ required: true }}]];")
            else:
                lines.append(f"  var INDEX{n} = 0;")
        return lines

    @staticmethod
    def extension_values() -> list[str]:
        return [
            "  function extensionValues(extensions) {",
            "    for (var i = 0; i < extensions.length; i++) {",
            "      if (extensions[i].name === GROUP && extensions[i].key === 'default') {",
            "        return extensions[i].values;",
            "      }",
            "    }",
            "    return null;",
            "  }",
        ]

    def readers(self) -> list[str]:
        """`readField(values, key)`: the nested value from the flat key-values, or undefined when absent."""
        field = self.field
        name = "read" + _cap(field.name)
        if field.strategy == "json":
            return [
                f"  function {name}(values, key) {{",
                "    var raw = values[key];",
                "    if (raw === undefined || raw === null) {",
                "      return undefined;",
                "    }",
                "    // Throws when the key holds text that is not JSON: a broken value shows instead of hiding.",
                "    return typeof raw === 'string' ? JSON.parse(raw) : raw;",
                "  }",
            ]
        lines: list[str] = []
        _prefix_readers(name, field.spec, lines)
        return lines

    def reader_name(self) -> str:
        return "read" + _cap(self.field.name)

    def latest_order(self) -> list[str]:
        return [
            "  // [INF] Personalize lists a guest's orders in guest.orders, each with its own dataExtensions.",
            "  function latestOrder(orders) {",
            "    var latest = null;",
            "    for (var o = 0; o < orders.length; o++) {",
            "      if (latest === null || new Date(orders[o].orderedAt) > new Date(latest.orderedAt)) {",
            "        latest = orders[o];",
            "      }",
            "    }",
            "    return latest;",
            "  }",
        ]


def _prefix_readers(name: str, spec: FieldSpec, out: list[str]) -> None:
    """Reader functions mirroring domain.flatten's reverse: objects by prefixed keys, lists by index."""
    nested: list[tuple[str, FieldSpec]] = []
    if spec.kind == "object":
        assert spec.fields is not None
        out += [
            f"  function {name}(values, prefix) {{",
            "    var out = {};",
            "    var found = false;",
            "    var value;",
        ]
        for field_name, sub in spec.fields.items():
            suffix = _js_string(_cap(field_name))
            if sub.is_composite:
                sub_name = name + _cap(field_name)
                nested.append((sub_name, sub))
                out.append(f"    value = {sub_name}(values, prefix + {suffix});")
            else:
                out.append(f"    value = values[prefix + {suffix}];")
            out += [
                "    if (value !== undefined && value !== null) {",
                f"      out.{field_name} = value;",
                "      found = true;",
                "    }",
            ]
        out += ["    return found ? out : undefined;", "  }"]
    else:
        assert spec.item is not None
        item = spec.item
        read_item = (
            f"{name}Item(values, prefix + items.length)" if item.is_composite else "values[prefix + items.length]"
        )
        out += [
            f"  function {name}(values, prefix) {{",
            "    var items = [];",
            "    var item;",
            f"    while ((item = {read_item}) !== undefined && item !== null) {{",
            "      items.push(item);",
            "    }",
            "    return items.length > 0 ? items : undefined;",
            "  }",
        ]
        if item.is_composite:
            nested.append((f"{name}Item", item))
    for sub_name, sub in nested:
        _prefix_readers(sub_name, sub, out)


def _iife(header: list[str], body: list[str]) -> str:
    lines = ["(function () {", *header, *body, "})();"]
    return "\n".join(lines) + "\n"


def _header(field: NestedField, what: str, return_type: str, *, template: bool) -> list[str]:
    kind = "decision template" if template else "programmable decision"
    return [
        f"  // {what}",
        f"  // Sitecore Personalize {kind}, return type {return_type}. {field.display} is {field.flat_keys_note()}.",
        "  // Generated by CDP PoC Studio from the scenario's extension schema (ES5, runs as written).",
    ]


def map_decision(field: NestedField, *, template: bool = False) -> str:
    """The nested value rebuilt, as a Map `{<key>: value}`; for orders `{<referenceId>: value}`."""
    js = _Js(field, template=template)
    read = js.reader_name()
    body = [js.group_line(), js.key_line(), "", *js.extension_values(), "", *js.readers(), ""]
    if field.entity == "guest":
        body += [
            "  var result = {};",
            "  var values = extensionValues(guest.dataExtensions || []);",
            "  if (values === null) {",
            "    return result;",
            "  }",
            f"  var value = {read}(values, KEY);",
            "  if (value !== undefined) {",
            "    result[KEY] = value;",
            "  }",
            "  return result;",
        ]
    else:
        body += [
            "  // [INF] Personalize lists a guest's orders in guest.orders, each with its own dataExtensions.",
            "  var result = {};",
            "  var orders = guest.orders || [];",
            "  for (var o = 0; o < orders.length; o++) {",
            "    var values = extensionValues(orders[o].dataExtensions || []);",
            "    var value = values === null ? undefined : " + f"{read}(values, KEY);",
            "    if (value !== undefined) {",
            "      result[orders[o].referenceId] = value;",
            "    }",
            "  }",
            "  return result;",
        ]
    what = f"{field.display} rebuilt as one nested value" + (
        ", keyed by the field key." if field.entity == "guest" else ", one entry per order keyed by its referenceId."
    )
    return _iife(_header(field, what, "Map", template=template), body)


def leaf_accessor(field: NestedField, leaf: Leaf, *, template: bool = False) -> str:
    """One leaf of the nested value, typed; list items by index (0 unless changed); orders: the latest one."""
    js = _Js(field, template=template)
    body = [js.group_line(), js.key_line(), *js.index_lines(leaf), "", *js.extension_values(), ""]
    if field.entity == "guest":
        body += ["  var values = extensionValues(guest.dataExtensions || []);"]
    else:
        body += [
            *js.latest_order(),
            "",
            "  var order = latestOrder(guest.orders || []);",
            "  var values = order === null ? null : extensionValues(order.dataExtensions || []);",
        ]
    body += ["  if (values === null) {", "    return null;", "  }"]
    if field.strategy == "json":
        body += [
            "  var raw = values[KEY];",
            "  if (raw === undefined || raw === null) {",
            "    return null;",
            "  }",
            "  var value = typeof raw === 'string' ? JSON.parse(raw) : raw;",
        ]
        n = 0
        for step in leaf.steps:
            if step is None:
                n += 1
                body.append(f"  value = value === undefined || value === null ? undefined : value[INDEX{n}];")
            else:
                body.append(f"  value = value === undefined || value === null ? undefined : value.{step};")
    else:
        parts = ["KEY"]
        n = 0
        for step in leaf.steps:
            if step is None:
                n += 1
                parts.append(f"INDEX{n}")
            else:
                parts.append(_js_string(_cap(step)))
        body.append(f"  var value = values[{' + '.join(parts)}];")
    body += _convert(leaf.return_type)
    what = f"{field.display}{leaf.path()} as {leaf.return_type}" + (
        f"; list items by INDEX1..{leaf.lists}" if leaf.lists else ""
    )
    if field.entity == "order":
        what += "; from the guest's latest order (by orderedAt)"
    return _iife(_header(field, what + ".", leaf.return_type, template=template), body)


def _convert(return_type: ReturnType) -> list[str]:
    if return_type == "Boolean":
        return ["  return typeof value === 'boolean' ? value : null;"]
    if return_type in ("Integer", "Long"):
        return ["  return typeof value === 'number' ? value : null;"]
    if return_type == "Date":
        return [
            "  if (value === undefined || value === null) {",
            "    return null;",
            "  }",
            "  var date = new Date(value);",
            "  return isNaN(date.getTime()) ? null : date;",
        ]
    return ["  return value === undefined || value === null ? null : String(value);"]


def export_snippet(field: NestedField) -> str:
    """Audience export, Advanced mode: an output record per guest that carries the nested value rebuilt."""
    js = _Js(field, template=False)
    read = js.reader_name()
    header = [
        f"  // Audience export, Advanced mode: one JSON output record per guest, with {field.display} rebuilt.",
        f"  // {field.display} is {field.flat_keys_note()}. Generated by CDP PoC Studio (ES5).",
        "  // [INF] Advanced mode builds each record with JavaScript over the guest; its errors count in",
        "  // programmableErrors. Add the attributes your activation needs beside the nested value.",
    ]
    body = [js.group_line(), js.key_line(), "", *js.extension_values(), "", *js.readers(), ""]
    body += [
        "  var record = {",
        "    guestRef: guest.ref === undefined ? null : guest.ref,",
        "    email: guest.email === undefined ? null : guest.email",
        "  };",
    ]
    if field.entity == "guest":
        body += [
            "  var values = extensionValues(guest.dataExtensions || []);",
            f"  var value = values === null ? undefined : {read}(values, KEY);",
            "  record[KEY] = value === undefined ? null : value;",
        ]
    else:
        body += [
            "  record.orders = [];",
            "  var orders = guest.orders || [];",
            "  for (var o = 0; o < orders.length; o++) {",
            "    var values = extensionValues(orders[o].dataExtensions || []);",
            f"    var value = values === null ? undefined : {read}(values, KEY);",
            "    var entry = { referenceId: orders[o].referenceId };",
            "    entry[KEY] = value === undefined ? null : value;",
            "    record.orders.push(entry);",
            "  }",
        ]
    body.append("  return record;")
    return _iife(header, body)


def with_defaults(template: str) -> str:
    """A decision template with every form placeholder replaced by its default: what runs when left as it is."""
    return PLACEHOLDER.sub(lambda m: m.group(3), template)


# ---------------------------------------------------------------- SQL


def sql_query(field: NestedField) -> str:
    """Athena/Presto SQL over the data lake export: the nested value as JSON, and one typed column per leaf."""
    alias, table, ref = ("g", "guests", "g.meta_ref AS guest_ref") if field.entity == "guest" else ("o", "orders", "")
    column = f"{alias}.{field.group}"
    if field.entity == "order":
        # [INF] The data lake's orders entity is assumed to mirror guests: meta_ref, reference_id and an ext map.
        ref = "o.meta_ref AS order_ref,\n  o.reference_id AS reference_id"
    if field.strategy == "json":
        nested = f"json_parse({column}['{field.name}'])"
        present = f"{column}['{field.name}'] IS NOT NULL"
    else:
        nested, present = _sql_prefix(column, field.name, (), field.spec)
    columns = [ref, f"json_format({nested}) AS {_snake(field.name)}"]
    for leaf in field.leaves():
        columns.append(f"{_sql_leaf(column, field, leaf)} AS {_snake(field.name + _cap(leaf.slug))}")
    lines = [
        f"-- {field.display}: {field.flat_keys_note()}, unpacked from the data lake export's {table} entity.",
        "-- Athena / Presto SQL over the Parquet files of Sitecore CDP's data lake export service.",
        f"-- [INF] Each extension group is a map column named after the group ({field.group}), values as text;",
        "-- the guests entity documents `ext` as such a map. List items are read at index 0; change it as needed.",
        "-- Generated by CDP PoC Studio from the scenario's extension schema.",
        "SELECT",
        "  " + ",\n  ".join(columns),
        f"FROM {table} {alias}",
        f"WHERE {present};",
    ]
    return "\n".join(lines) + "\n"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _sql_typed(expression: str, spec: FieldSpec) -> str:
    """A text value read as its designed type (NULL when it does not read)."""
    kind = Leaf((), spec).return_type
    if kind == "Boolean":
        return f"TRY_CAST({expression} AS BOOLEAN)"
    if kind in ("Integer", "Long"):
        return f"TRY_CAST({expression} AS BIGINT)"
    if spec.kind == "float":
        return f"TRY_CAST({expression} AS DOUBLE)"
    if spec.kind == "date":
        return f"TRY_CAST({expression} AS DATE)"
    if spec.kind == "datetime":
        return f"TRY(from_iso8601_timestamp({expression}))"
    return expression


def _sql_prefix(column: str, key: str, steps: tuple[Step, ...], spec: FieldSpec) -> tuple[str, str]:
    """A JSON expression rebuilding a prefix-flattened value, and the condition that any of its keys is present."""
    if spec.kind == "object":
        assert spec.fields is not None
        names, values, present = [], [], []
        for name, sub in spec.fields.items():
            expression, condition = _sql_prefix(column, key + _cap(name), (*steps, name), sub)
            names.append(f"'{name}'")
            values.append(expression)
            present.append(condition)
        condition = "(" + " OR ".join(present) + ")"
        built = f"map_filter(MAP(ARRAY[{', '.join(names)}], ARRAY[{', '.join(values)}]), (k, v) -> v IS NOT NULL)"
        return f"IF({condition}, CAST({built} AS JSON))", condition
    if spec.kind == "list":
        assert spec.item is not None
        items, present = [], []
        for index in range(spec.max_items):
            expression, condition = _sql_prefix(column, f"{key}{index}", (*steps, None), spec.item)
            items.append(expression)
            present.append(condition)
        condition = "(" + " OR ".join(present) + ")"
        return f"IF({condition}, CAST(filter(ARRAY[{', '.join(items)}], x -> x IS NOT NULL) AS JSON))", condition
    cell = f"{column}['{key}']"
    typed = _sql_typed(cell, spec)
    value = f"CAST({typed} AS VARCHAR)" if spec.kind in ("date", "datetime") else typed
    return f"CAST({value} AS JSON)", f"{cell} IS NOT NULL"


def _sql_leaf(column: str, field: NestedField, leaf: Leaf) -> str:
    if field.strategy == "json":
        json_path = "$" + leaf.path(0)
        return _sql_typed(f"json_extract_scalar({column}['{field.name}'], '{json_path}')", leaf.spec)
    return _sql_typed(f"{column}['{_flat_key(field.name, leaf.steps)}']", leaf.spec)


# ---------------------------------------------------------------- all snippets, and writing them


def snippets_for(schema: ExtensionSchema) -> list[Snippet]:
    """Every snippet of the schema's nested fields, in a stable order."""
    out: list[Snippet] = []
    for field in nested_fields(schema):
        base = field.slug
        out.append(Snippet(
            f"{base}.map", "decision", field.display, f"{field.display} rebuilt (Map)", map_decision(field),
            f"decisions/{base}.js", return_type="Map",
        ))  # fmt: skip
        out.append(Snippet(
            f"{base}.map.template", "template", field.display, f"{field.display} rebuilt (Map), decision template",
            map_decision(field, template=True), f"templates/{base}.js", return_type="Map",
        ))  # fmt: skip
        for leaf in field.leaves():
            leaf_path = field.display + leaf.path()
            name = f"{base}_{leaf.slug}"
            out.append(Snippet(
                f"{name}.accessor", "accessor", field.display, f"{leaf_path} ({leaf.return_type})",
                leaf_accessor(field, leaf), f"decisions/{name}.js", leaf=leaf_path, return_type=leaf.return_type,
            ))  # fmt: skip
            out.append(Snippet(
                f"{name}.accessor.template", "template", field.display,
                f"{leaf_path} ({leaf.return_type}), decision template", leaf_accessor(field, leaf, template=True),
                f"templates/{name}.js", leaf=leaf_path, return_type=leaf.return_type,
            ))  # fmt: skip
        out.append(Snippet(
            f"{base}.export", "export", field.display, f"{field.display} in an audience export (Advanced mode)",
            export_snippet(field), f"export/{base}.js",
        ))  # fmt: skip
        out.append(Snippet(
            f"{base}.sql", "sql", field.display, f"{field.display} from the data lake (Athena/Presto SQL)",
            sql_query(field), f"sql/{base}.sql",
        ))  # fmt: skip
    return out


def write_snippets(schema: ExtensionSchema, folder: Path) -> list[Snippet]:
    """Write every snippet under `folder` (decisions/, templates/, export/, sql/) with an index.json."""
    snippets = snippets_for(schema)
    for snippet in snippets:
        target = folder / snippet.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(snippet.code, encoding="utf-8")
    if snippets:
        index = [s.to_json() for s in snippets]
        (folder / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return snippets
