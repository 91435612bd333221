"""Mapping a sample's rows to CDP guests: the rules compiled once, then applied row by row, streamed.

Each row becomes either a guest, in the same shape as a generated one (so that the ledger, batch files, the REST
sender, read-back and verification take it unchanged), or findings: the row number, line, column, value and
reason of every transform that failed and every CDP rule the mapped record breaks. Nothing is dropped silently.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cdp_poc_studio.domain.flatten import flatten_group
from cdp_poc_studio.domain.lint import Api, lint_record
from cdp_poc_studio.domain.schema import ExtensionSchema, FieldSpec
from cdp_poc_studio.generator.records import GeneratedGuest
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.roundtrip.source.reader import SourceError, SourceFile, SourceRow
from cdp_poc_studio.roundtrip.source.spec import IDENTIFIER_TARGET, Target, parse_target
from cdp_poc_studio.roundtrip.source.transforms import TransformError, compile_steps

_INDEX = re.compile(r"\[\d+\]")
# A stable namespace for record refs: the same key gives the same ref in every run, so resume is idempotent.
_REF_NAMESPACE = uuid.UUID("1f0d3c52-6a55-4d3e-9d1f-6b1f9e9a7c10")
# A field of the mapping's own (no schema defines it): kept as text; it is never generated from.
_PLACEHOLDER = FieldSpec(kind="faker", provider="pystr")


class MappingError(ValueError):
    """Mapping rules that cannot work with this file or schema: the rule, the cause and the fix."""


# What a sample or its rules can raise before anything is sent; each says the file, place and fix.
SAMPLE_ERRORS = (SourceError, MappingError)


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a row is not sent as it is: where (row, line, column), the value found, and the reason."""

    row: int
    line: int | None
    column: str
    value: Any
    reason: str
    kind: str = "transform"  # "transform", "lint" (a CDP rule), "row" (width, key)
    file: str = ""  # set for a row of a second file (the orders); the guests' file is the run's [source]

    def __str__(self) -> str:
        place = (f"{self.file}, " if self.file else "") + f"row {self.row}"
        place += f" (line {self.line})" if self.line is not None else ""
        column = f", column {self.column!r}" if self.column else ""
        value = f", value {_short(self.value)!r}" if self.value not in (None, "") else ""
        return f"{place}{column}{value}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row, "line": self.line, "column": self.column, "value": self.value, "reason": self.reason,
            "kind": self.kind, **({"file": self.file} if self.file else {}),
        }  # fmt: skip


@dataclass(slots=True)
class MappedRow:
    """One source row after mapping: the guest to send (None when it has findings), and the findings."""

    number: int
    line: int | None
    key: str | None
    guest: GeneratedGuest | None
    findings: list[Finding] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # by target, before flattening: the "after" of a preview
    # The envelope as built, even with findings (the fields whose transforms failed left out): what a preview shows.
    record: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: MappingRule
    target: Target
    get: Callable[[Any], Any]
    steps: Callable[[Any], Any]


def _short(value: Any) -> Any:
    return value if not isinstance(value, str) or len(value) <= 80 else value[:77] + "..."


class SourceMapping:
    """Rules compiled for one opened sample file; `rows()` maps them all, streamed.

    `schema` is the scenario's extension schema: nested targets (`ext.address.city`) are flattened by its rules
    (prefix or JSON), and targets it does not define are added to `self.schema`, the schema the run verifies with.
    """

    def __init__(
        self,
        rules: Sequence[MappingRule],
        source: SourceFile,
        schema: ExtensionSchema,
        *,
        provider: str,
        api: Api = "batch",
        lint: bool = True,
        now: datetime | None = None,
        require_identifier: bool = True,
    ) -> None:
        self.source, self.provider, self.api, self.lint = source, provider, api, lint
        self.now = now or datetime.now(UTC)
        if not rules and require_identifier:
            raise MappingError("the scenario has a [source] but no [[mapping]] rules; map at least an identifier")
        self.rules = list(rules)
        self._compiled = [self._compile(rule) for rule in self.rules]
        if require_identifier and not any(c.target.kind == "identifier" for c in self._compiled):
            raise MappingError(
                "no rule maps a column to identifiers.id: every guest needs an identifier, so that CDP and the "
                'verification find it again; add [[mapping]] column = "<customer id column>", target = "identifiers.id"'
            )
        targets: dict[str, str] = {}
        for rule in self.rules:
            if rule.target in targets and rule.target != "identifiers.id":
                raise MappingError(f"{rule.label} and {targets[rule.target]} both go to {rule.target}; keep one")
            targets[rule.target] = rule.label
        self.schema = source_schema(
            schema, [(c.target, _yields_list(c.rule, source.list_columns)) for c in self._compiled]
        )
        self._origins = {c.rule.target: c.rule.label for c in self._compiled}
        self._origins["identifiers"] = next(
            (c.rule.label for c in self._compiled if c.target.kind == "identifier"), IDENTIFIER_TARGET
        )
        self._flat_origins = self._flat_keys()
        self._planned: list[tuple[Any, ...]] | None = None
        self._fast: Any = _UNSET

    # ------------------------------------------------------------------------------------------------ compiling

    def _compile(self, rule: MappingRule) -> _Compiled:
        target = parse_target(rule.target)
        get = rule_getter(self.source, rule.columns)
        return _Compiled(rule, target, get, compile_steps(rule.transforms))

    def _flat_keys(self) -> dict[str, str]:
        """Flat extension keys (as CDP and the linter name them) back to the rule's columns."""
        out: dict[str, str] = {}
        for compiled in self._compiled:
            target = compiled.target
            if target.kind != "extension" or target.group is None:
                continue
            fields = self.schema.guest[target.group]
            nested: dict[str, Any] = {}
            _put(nested, target.path, "x")
            for key in flatten_group(self.schema, fields, _fill(fields, nested)):
                out.setdefault(f"{target.group}.{key}", compiled.rule.label)
        return out

    # ------------------------------------------------------------------------------------------------ mapping

    def rows(self) -> Iterator[MappedRow]:
        """Every row of the file mapped, with duplicate keys and rows of the wrong width as findings."""
        seen = _FirstRows()
        width = len(self.source.columns) if self.source.format == "csv" else None
        for row in self.source.rows():
            mapped = self.map_row(row)
            if width is not None and len(row.cells) != width:
                mapped.findings.insert(0, Finding(
                    row.number, row.line, "", None,
                    f"{len(row.cells)} cells where the header has {width}; check quoting and the delimiter",
                    "row",
                ))  # fmt: skip
            if mapped.key is not None:
                first = seen.first(mapped.key, row.number)
                if first != row.number:
                    mapped.findings.append(Finding(
                        row.number, row.line, self._origins["identifiers"], mapped.key.split(":", 1)[1],
                        f"the same identifier as row {first}: one guest per row; remove or merge the duplicate",
                        "row",
                    ))  # fmt: skip
            if mapped.findings:
                mapped.guest = None
            yield mapped

    def _plan(self) -> list[tuple[Any, ...]]:
        """Per rule, what map_row needs in the order it needs it (read once per rule, not once per cell)."""
        simple_groups = {
            group
            for group, fields in self.schema.guest.items()
            if all(
                c.target.group != group or (len(c.target.path) == 1 and not fields[c.target.path[0]].is_composite)
                for c in self._compiled
            )
        }
        plan = []
        for c in self._compiled:
            kind = {"attribute": _ATTRIBUTE, "identifier": _IDENTIFIER, "extension": _EXTENSION}[c.target.kind]
            if kind == _EXTENSION and c.target.group not in simple_groups:
                kind = _NESTED
            plan.append((
                c.get, _memoised(c.steps), kind, c.target.path[-1] if c.target.path else c.target.name,
                c.target.is_list, c.target.group, c.target.path, c.rule.label, c.rule.required,
                c.rule.provider or self.provider, c.rule.target,
            ))  # fmt: skip
        return plan

    def map_row(self, row: SourceRow) -> MappedRow:
        """One row mapped: by the compiled fast path when the row maps cleanly, else step by step with findings."""
        if self._fast is _UNSET:
            self._fast = self._compile_fast_or_none()
        if self._fast is not None:
            out = self._fast(row.cells)
            if out is not None:
                value, nested, key = out
                record = {"ref": _ref(key), "schema": "guest", "mode": "upsert", "value": value}
                if not self.lint or not lint_record(record, self.api, now=self.now):
                    guest = GeneratedGuest(row.number, "", record, nested, [])
                    return MappedRow(row.number, row.line, key, guest, [], record=record)
        return self._map_row_slowly(row)

    def _compile_fast_or_none(self) -> Callable[[list[str]], Any] | None:
        return _compile_fast(self) if self.source.format == "csv" else None

    def _map_row_slowly(self, row: SourceRow) -> MappedRow:
        cells = row.cells
        findings: list[Finding] | None = None
        value: dict[str, Any] = {"guestType": "customer"}
        identifiers: list[dict[str, str]] = []
        flat: dict[str, dict[str, Any]] = {}  # simple groups: flat keys are the nested value's keys
        nested: dict[str, dict[str, Any]] = {}
        plan = self._planned
        if plan is None:
            plan = self._planned = self._plan()
        for get, steps, kind, name, is_list, group, path, label, required, provider, target in plan:
            raw = get(cells)
            try:
                result = steps(raw)
            except TransformError as exc:
                findings = findings or []
                findings.append(Finding(row.number, row.line, label, raw, str(exc)))
                continue
            if result is None:
                if required:
                    findings = findings or []
                    findings.append(Finding(
                        row.number, row.line, label, raw,
                        f"is empty, and {target} is required; fill it or add a default transform",
                    ))  # fmt: skip
                continue
            if kind == _ATTRIBUTE:
                value[name] = (list(result) if isinstance(result, list) else [result]) if is_list else result
            elif kind == _IDENTIFIER:
                identifiers.append({"provider": provider, "id": str(result)})
            elif kind == _EXTENSION:
                values = flat.get(group)
                if values is None:
                    values = flat[group] = {}
                values[name] = result
            else:
                _put(nested.setdefault(group, {}), path, result)
        key = None
        if identifiers:
            value["identifiers"] = identifiers
            key = f"{identifiers[0]['provider']}:{identifiers[0]['id']}"
        elif not findings:
            findings = [Finding(
                row.number, row.line, self._origins["identifiers"], None,
                "has no identifier; every guest needs one to be matched in CDP and found again",
            )]  # fmt: skip
        if flat or nested:
            groups = [{"name": group, "key": "default", **values} for group, values in flat.items()]
            for group, tree in nested.items():
                flattened = flatten_group(self.schema, self.schema.guest[group], tree)
                if flattened:
                    groups.append({"name": group, "key": "default", **flattened})
            if groups:
                value["extensions"] = groups
            nested.update(flat)
        record = {"ref": _ref(key or f"row:{row.number}"), "schema": "guest", "mode": "upsert", "value": value}
        guest = None
        if key is not None:
            if self.lint and not findings:
                for violation in lint_record(record, self.api, now=self.now):
                    findings = findings or []
                    findings.append(Finding(
                        row.number, row.line, self.origin(violation.path.removeprefix("value.")),
                        _at(value, violation.path), f"{violation.message} (CDP rule {violation.rule})", "lint",
                    ))  # fmt: skip
            if not findings:
                guest = GeneratedGuest(row.number, "", record, nested, [])
        return MappedRow(row.number, row.line, key, guest, findings or [], record=record)

    def trace(self, row: SourceRow) -> list[tuple[Any, Any, str | None]]:
        """Per rule: the cell(s) read, the value after the transforms, and the error when one failed."""
        out: list[tuple[Any, Any, str | None]] = []
        for compiled in self._compiled:
            raw = compiled.get(row.cells)
            try:
                out.append((raw, compiled.steps(raw), None))
            except TransformError as exc:
                out.append((raw, None, str(exc)))
        return out

    def origin(self, path: str) -> str:
        """The column a field path comes from (`dateOfBirth`, `ext.address.city`, `extensions[0].tier`)."""
        plain = _INDEX.sub("", path)
        if plain.startswith("extensions.") or plain == "extensions":
            flat = self._flat_origins
            for candidate, label in flat.items():
                if plain.endswith("." + candidate.split(".", 1)[1]):
                    return label
            return ""
        parts = plain.split(".")
        for end in range(len(parts), 0, -1):
            found = self._origins.get(".".join(parts[:end]))
            if found is not None:
                return found
        return self._flat_origins.get(plain, "")


def column_getter(source: SourceFile, column: str) -> Callable[[Any], Any]:
    """A function from a row's cells to the cell of `column` (None when empty); SourceError for a missing column."""
    columns = source.columns
    if source.format == "csv":
        if column not in columns:
            close = difflib.get_close_matches(column, columns, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "the columns are: " + ", ".join(columns[:30])
            raise SourceError(source.path, f"no such column in the header; {hint}", line=1, column=column)
        index = columns.index(column)

        def cell(cells: Any) -> Any:
            # An empty cell (and a cell missing from a short row) is None: the field is left out.
            return (cells[index] or None) if index < len(cells) else None

        return cell

    def path(cells: Any) -> Any:
        value = cells.get(column)
        return None if value == "" else value

    return path


def rule_getter(source: SourceFile, columns: Sequence[str]) -> Callable[[Any], Any]:
    """A rule's input: nothing, one cell, or the list of its columns' cells (for concat)."""
    getters = [column_getter(source, column) for column in columns]
    if not getters:
        return _nothing
    if len(getters) == 1:
        return getters[0]
    parts = tuple(getters)
    return lambda cells: [g(cells) for g in parts]


class _FirstRows:
    """The first row of each key seen, in two flat arrays (12 bytes a slot), not a dict (about 100 bytes a key).

    An open-addressing table of 64-bit key digests and row numbers; it doubles when half full. Two keys with the
    same 64-bit digest would count as one: about one chance in 10^7 for a billion rows, and it would show as a
    duplicate finding naming both rows, never as a silent skip.
    """

    def __init__(self) -> None:
        self._digests = array("Q", bytes(8 * 1024))
        self._rows = array("I", bytes(4 * 1024))  # row numbers up to 4 billion
        self._used = 0

    def first(self, key: str, row: int) -> int:
        """The first row that had `key` (this row, when it is new)."""
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1
        digests, rows = self._digests, self._rows
        mask = len(digests) - 1
        slot = digest & mask
        while True:
            found = digests[slot]
            if found == 0:
                break
            if found == digest:
                return int(rows[slot])
            slot = (slot + 1) & mask
        digests[slot], rows[slot] = digest, row
        self._used += 1
        if 2 * self._used > len(digests):
            self._grow()
        return row

    def _grow(self) -> None:
        old_digests, old_rows = self._digests, self._rows
        size = 2 * len(old_digests)
        self._digests = array("Q", bytes(8 * size))
        self._rows = array(old_rows.typecode, bytes(old_rows.itemsize * size))
        mask = size - 1
        # Walked in place (zip over the arrays), never copied into a list of pairs: growing stays within 1.5x.
        for digest, row in zip(old_digests, old_rows, strict=True):
            if digest:
                slot = digest & mask
                while self._digests[slot]:
                    slot = (slot + 1) & mask
                self._digests[slot], self._rows[slot] = digest, row


_ATTRIBUTE, _IDENTIFIER, _EXTENSION, _NESTED = range(4)
_UNSET: Any = object()


def _compile_fast(mapping: SourceMapping) -> Callable[[list[str]], Any] | None:
    """A function written for this mapping: one CSV row to (value, nested extensions, key), or None.

    It does what `_map_row_slowly` does for a row that maps cleanly, without the per-rule dispatch (about three
    times faster); None means "not cleanly" (a transform failed, a required cell is empty, no identifier, the
    row's width is wrong), and the row is then mapped step by step, which finds and names every problem.
    Only flat targets are compiled: a mapping with nested extension targets or multi-column rules is not.
    """
    plan = mapping._plan()
    if any(kind == _NESTED for _get, _steps, kind, *_rest in plan):
        return None
    columns = mapping.source.columns
    namespace: dict[str, Any] = {"MISS": _UNSET, "TransformError": TransformError, "LIMIT": _MEMO_SIZE}
    lines = ["def fast(cells):", f"    if len(cells) != {len(columns)}:", "        return None"]
    lines += ["    value = {'guestType': 'customer'}", "    ids = []"]
    groups: list[str] = []
    for index, compiled in enumerate(mapping._compiled):
        rule, target = compiled.rule, compiled.target
        steps = compiled.steps
        try:
            empty = steps(None)
        except TransformError:
            return None
        namespace[f"S{index}"], namespace[f"M{index}"], namespace[f"E{index}"] = steps, {}, empty
        if len(rule.columns) > 1:
            # Several columns: their cells as a list, transformed each time (a list is not worth remembering).
            cells_of = ", ".join(f"cells[{columns.index(c)}] or None" for c in rule.columns)
            lines += [
                "    try:",
                f"        r = S{index}([{cells_of}])",
                "    except TransformError:",
                "        return None",
            ]
        else:
            lines.append(
                f"    raw = cells[{columns.index(rule.columns[0])}] or None" if rule.columns else "    raw = None"
            )
        lines += (
            []
            if len(rule.columns) > 1
            else [
                "    if raw is None:",
                f"        r = E{index}",
                "    else:",
                f"        r = M{index}.get(raw, MISS)",
                "        if r is MISS:",
                "            try:",
                f"                r = S{index}(raw)",
                "            except TransformError:",
                "                return None",
                f"            if len(M{index}) < LIMIT:",
                f"                M{index}[raw] = r",
            ]
        )
        if target.kind == "attribute":
            write = (
                f"value[{target.name!r}] = list(r) if type(r) is list else [r]"
                if target.is_list
                else f"value[{target.name!r}] = r"
            )
        elif target.kind == "identifier":
            namespace[f"P{index}"] = rule.provider or mapping.provider
            write = f"ids.append({{'provider': P{index}, 'id': str(r)}})"
        else:
            assert target.group is not None
            if target.group not in groups:
                groups.append(target.group)
                lines.insert(4, f"    g_{target.group} = {{}}")
            write = f"g_{target.group}[{target.path[-1]!r}] = r"
        lines.append("    if r is not None:")
        lines.append(f"        {write}")
        if rule.required:
            lines += ["    else:", "        return None"]
    lines += [
        "    if not ids:",
        "        return None",
        "    value['identifiers'] = ids",
        "    nested = {}",
    ]
    for group in groups:
        lines += [f"    if g_{group}:", f"        nested[{group!r}] = g_{group}"]
    lines += [
        "    if nested:",
        "        value['extensions'] = [{'name': g, 'key': 'default', **v} for g, v in nested.items()]",
        "    return value, nested, f\"{ids[0]['provider']}:{ids[0]['id']}\"",
    ]
    exec(compile("\n".join(lines), f"<mapping of {mapping.source.path.name}>", "exec"), namespace)
    fast: Callable[[list[str]], Any] = namespace["fast"]
    return fast


_MEMO_SIZE = 20_000
_NAMESPACE_BYTES = _REF_NAMESPACE.bytes


class _Failed:
    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _memoised(steps: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The transforms of a rule, remembered per distinct cell: most columns repeat a few thousand values at most.

    Every transform is a pure function of the cell, so a remembered result (or failure) is the same as a new one.
    """
    memo: dict[Any, Any] = {}
    missing = _Failed("")

    def run(raw: Any) -> Any:
        if type(raw) is not str:
            return steps(raw)  # lists and JSON values: not worth hashing
        found = memo.get(raw, missing)
        if found is missing:
            try:
                found = steps(raw)
            except TransformError as exc:
                found = _Failed(str(exc))
            if len(memo) < _MEMO_SIZE:
                memo[raw] = found
        if type(found) is _Failed:
            raise TransformError(found.message)
        return found

    return run


def _ref(key: str) -> str:
    """uuid5(_REF_NAMESPACE, key), formatted by hand: the uuid module's objects cost more than the hash."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + key.encode()).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 0x3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


def _yields_list(rule: MappingRule, list_columns: set[str]) -> bool:
    shaping = [t.op for t in rule.transforms if t.op in ("split", "join", "concat")]
    if shaping:
        return shaping[-1] == "split"
    return len(rule.columns) == 1 and rule.columns[0] in list_columns


def _nothing(_cells: Any) -> Any:
    return None


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _fill(fields: dict[str, FieldSpec], nested: dict[str, Any]) -> dict[str, Any]:
    """A probe value for naming flat keys: lists get one item, so that their indexed keys show."""
    out: dict[str, Any] = {}
    for name, value in nested.items():
        spec = fields.get(name)
        if spec is not None and spec.kind == "list":
            out[name] = [value] if not isinstance(value, list) else value
        elif spec is not None and spec.kind == "object" and isinstance(value, dict):
            out[name] = _fill(spec.fields or {}, value)
        else:
            out[name] = value
    return out


def _at(value: dict[str, Any], path: str) -> Any:
    """The value at a linter path (`value.extensions[0].tier`), for the finding; None when not found."""
    current: Any = {"value": value}
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            current = current[int(part[1:-1])] if part.startswith("[") else current[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return current if not isinstance(current, (dict, list)) else None


def source_schema(schema: ExtensionSchema, targets: Sequence[tuple[Target, bool]]) -> ExtensionSchema:
    """The schema with a field for every extension target it lacks, so that verification rebuilds them too.

    `targets` pairs each target with whether its rule yields a list. A target inside a field the schema defines
    must exist there (ext.address.town when address has no town is a mistake to point out); a target outside it
    is the mapping's own field, nested objects included.
    """
    guest: dict[str, dict[str, FieldSpec]] = {group: dict(fields) for group, fields in schema.guest.items()}
    ours: set[int] = set()  # the objects made here, which later targets may add fields to
    for target, is_list in targets:
        if target.kind != "extension" or target.group is None:
            continue
        fields = guest.setdefault(target.group, {})
        if target.path[0] not in fields:
            fields[target.path[0]] = _placeholder(target.path[1:], is_list, ours)
            continue
        spec = fields[target.path[0]]
        for depth, part in enumerate(target.path[1:], start=1):
            if spec.kind == "list" and spec.item is not None:
                spec = spec.item
            if spec.kind == "object" and spec.fields is not None and part not in spec.fields and id(spec) in ours:
                spec.fields[part] = _placeholder(target.path[depth + 1 :], is_list, ours)
            if spec.kind != "object" or spec.fields is None or part not in spec.fields:
                where = ".".join((target.group, *target.path[:depth]))
                have = ", ".join(spec.fields or {}) if spec.kind == "object" else f"a {spec.kind} value"
                raise MappingError(f"{target.name}: the schema's {where} has no field {part!r} (it holds {have})")
            spec = spec.fields[part]
    if guest == schema.guest:
        return schema
    return schema.model_copy(update={"guest": guest})


def _placeholder(rest: tuple[str, ...], is_list: bool, ours: set[int]) -> FieldSpec:
    if rest:
        made = FieldSpec(kind="object", fields={rest[0]: _placeholder(rest[1:], is_list, ours)})
        ours.add(id(made))
        return made
    # Lists of the mapping's own are flattened with indexes (tags0, tags1...); 50 covers any split cell.
    return FieldSpec(kind="list", item=_PLACEHOLDER, max_items=50) if is_list else _PLACEHOLDER
