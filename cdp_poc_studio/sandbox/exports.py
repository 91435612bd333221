"""Audience exports: definitions (made through the admin API), runs that write gzipped output files, and the
views the v2 REST API returns (facts §7; the reconstructed audience export spec).

Output record shape (facts §7.3 is a gap; this follows its recommendation): one JSON object per line,
`{"guestRef": ..., <attribute>: ..., "<group>.<key>": <extension value>, "orders": [...]}`; CSV has the same
columns, arrays and objects JSON-encoded in their cell. Delta "remove" files hold `{"guestRef": ...}` only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import queue
import re
import sqlite3
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cdp_poc_studio.sandbox.clock import iso
from cdp_poc_studio.sandbox.gc_pause import paused_gc
from cdp_poc_studio.sandbox.s3 import EXPORT_BUCKET, object_path
from cdp_poc_studio.sandbox.segments import GuestFacts, SegmentError, compile_segment

if TYPE_CHECKING:
    from cdp_poc_studio.sandbox.context import Sandbox

FRIENDLY_ID = re.compile(r"^[a-z0-9_]+$")  # facts §7.1: lowercase alphanumerics and underscores
DEFAULT_ATTRIBUTES = [
    "email", "firstName", "lastName", "guestType", "gender", "dateOfBirth", "phoneNumbers", "street", "city",
    "state", "postCode", "country", "firstSeen", "lastSeen", "identifiers",
]  # fmt: skip
ORDER_EXPORT_KEYS = ("referenceId", "orderedAt", "price", "currencyCode", "status", "channel", "pointOfSale")
DEFINITION_KEYS = {
    "friendlyId", "name", "segment", "definitionType", "format", "csv", "attributes", "includeExtensions",
    "extensionAttributes", "includeOrders",
}  # fmt: skip


class DefinitionError(ValueError):
    pass


def check_definition(body: Any, *, partial: bool = False) -> dict[str, Any]:
    """Validate an export definition from the admin API and fill the defaults."""
    if not isinstance(body, dict):
        raise DefinitionError("the definition must be a JSON object")
    unknown = set(body) - DEFINITION_KEYS
    if unknown:
        raise DefinitionError(f"unknown fields: {', '.join(sorted(unknown))}")
    d = dict(body)
    if not partial or "friendlyId" in d:
        fid = d.get("friendlyId")
        if not isinstance(fid, str) or not FRIENDLY_ID.match(fid):
            raise DefinitionError("friendlyId must be lowercase letters, digits and underscores")
    d.setdefault("name", d.get("friendlyId"))
    d.setdefault("definitionType", "FULL_SYNC")
    d.setdefault("format", "JSON")
    if d["definitionType"] not in ("FULL_SYNC", "DELTA"):
        raise DefinitionError("definitionType must be FULL_SYNC or DELTA")
    if d["format"] not in ("JSON", "CSV"):
        raise DefinitionError("format must be JSON or CSV")
    csv_opts = {"separator": "comma", "header": True, "quote": True, **(d.get("csv") or {})}
    if csv_opts["separator"] not in ("comma", "pipe") or set(csv_opts) - {"separator", "header", "quote"}:
        raise DefinitionError("csv takes separator (comma or pipe), header and quote")
    d["csv"] = csv_opts
    attributes = d.get("attributes", DEFAULT_ATTRIBUTES)
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise DefinitionError("attributes must be a list of guest attribute names")
    d["attributes"] = [a for a in attributes if a not in ("guestRef", "ref")]
    inc = d.get("includeExtensions", True)
    if not isinstance(inc, bool) and not (isinstance(inc, list) and all(isinstance(x, str) for x in inc)):
        raise DefinitionError("includeExtensions must be true, false or a list of extension names")
    d["includeExtensions"] = inc
    ext_attrs = d.get("extensionAttributes")
    if ext_attrs is not None and not (isinstance(ext_attrs, list) and all(isinstance(x, str) for x in ext_attrs)):
        raise DefinitionError("extensionAttributes must be a list of keys (group.key or key)")
    d["includeOrders"] = bool(d.get("includeOrders", False))
    try:
        compile_segment(d.get("segment"))
    except SegmentError as exc:
        raise DefinitionError(f"segment: {exc}") from None
    return d


@dataclass
class OutputFile:
    name: str
    delta_action: str | None
    path: Path
    records: int = 0
    bytes: int = 0


@dataclass
class SplitWriter:
    """Gzipped output split every `split` records; `prefix-00000.json.gz`, `prefix-00001.json.gz`, ..."""

    folder: Path
    prefix: str
    suffix: str
    split: int
    level: int
    delta_action: str | None
    header: bytes = b""
    files: list[OutputFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._out: Any = None
        self._in_file = 0
        self._buffer: list[bytes] = []
        # Compression runs on a second thread: zlib releases the GIL, so building records and compressing them
        # overlap on two cores. Blocks are large (BLOCK_LINES lines, a few MB): each hand-off makes the thread
        # wait for the GIL (up to the 5 ms switch interval) while the record loop holds it, and with small blocks
        # those waits starved the compressor. The bounded queue keeps memory flat whatever the record count.
        self._jobs: queue.Queue[tuple[Any, Any, bytes | None]] = queue.Queue(maxsize=3)
        self._compressor = threading.Thread(target=self._compress_loop, name="export-gzip", daemon=True)
        self._compressor.start()

    def _compress_loop(self) -> None:
        while True:
            out, zip_, data = self._jobs.get()
            if out is None:
                return
            if data is None:
                out.write(zip_.flush())
                out.close()
            else:
                out.write(zip_.compress(data))

    def _open(self) -> None:
        name = f"{self.prefix}-{len(self.files):05d}.{self.suffix}.gz"
        current = OutputFile(name, self.delta_action, self.folder / name)
        self.files.append(current)
        self._out = current.path.open("wb")
        self._zip = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        self._in_file = 0
        if self.header:
            self._jobs.put((self._out, self._zip, self.header))

    def _flush_buffer(self) -> None:
        if self._buffer:
            self.write_many(self._buffer)
            self._buffer = []

    def write(self, line: bytes) -> None:
        self._buffer.append(line)
        if len(self._buffer) >= BLOCK_LINES:
            self._flush_buffer()

    def write_many(self, lines: list[bytes]) -> None:
        """Hand lines to the compressor thread in one block (split at file boundaries)."""
        start = 0
        while start < len(lines):
            if self._out is None:
                self._open()
            part = lines[start : start + self.split - self._in_file]
            self._jobs.put((self._out, self._zip, b"".join(part)))
            self._in_file += len(part)
            self.files[-1].records += len(part)
            start += len(part)
            if self._in_file >= self.split:
                self._close_current()

    def _close_current(self) -> None:
        # The compressor thread finishes and closes the file; sizes are read in close(), so that the writer
        # never waits for the compressor at a file boundary.
        if self._out is None:
            return
        self._jobs.put((self._out, self._zip, None))
        self._out = None

    def close(self, *, at_least_one: bool = True) -> list[OutputFile]:
        self._flush_buffer()
        if self._out is None and at_least_one and not self.files:
            self._open()
        self._close_current()
        self._jobs.put((None, None, None))
        self._compressor.join()
        for output in self.files:
            output.bytes = output.path.stat().st_size
        return self.files


_UNSEEN: Any = object()
BLOCK_LINES = 16_384  # output lines handed to the compressor thread at a time


class _MemberSpool:
    """The refs of this run's audience, spooled to a scratch SQLite file (not kept in memory) for the delta diff."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=OFF")  # scratch data: no journal, no fsync
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE members(ref TEXT PRIMARY KEY) WITHOUT ROWID")
        self._conn.execute("BEGIN")
        self._pending: list[tuple[str]] = []

    def add(self, ref: str) -> None:
        self._pending.append((ref,))
        if len(self._pending) >= 5000:
            self._conn.executemany("INSERT OR IGNORE INTO members VALUES (?)", self._pending)
            self._pending = []

    def finish(self) -> Path:
        self._conn.executemany("INSERT OR IGNORE INTO members VALUES (?)", self._pending)
        self._pending = []
        self._conn.execute("COMMIT")
        self._conn.close()
        return self.path

    def discard(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self.path.unlink(missing_ok=True)


class RecordEncoder:
    """Turns one guest into an output line (JSON object or CSV row)."""

    def __init__(self, definition: dict[str, Any], ext_columns: list[str]) -> None:
        self.attributes: list[str] = definition["attributes"]
        inc = definition["includeExtensions"]
        self.ext_groups: set[str] | None = None if inc is True else (set(inc) if isinstance(inc, list) else set())
        self.ext_attrs: set[str] | None = (
            set(definition["extensionAttributes"]) if definition.get("extensionAttributes") else None
        )
        self.any_extensions = self.ext_groups is None or bool(self.ext_groups)
        self._columns: dict[str, dict[str, str | None]] = {}
        self.include_orders: bool = definition["includeOrders"]
        self.csv = definition["format"] == "CSV"
        self.columns = ["guestRef", *self.attributes, *ext_columns, *(["orders"] if self.include_orders else [])]
        opts = definition["csv"]
        self._buf = io.StringIO()
        self._writer = csv.writer(
            self._buf,
            delimiter="," if opts["separator"] == "comma" else "|",
            quoting=csv.QUOTE_ALL if opts["quote"] else csv.QUOTE_MINIMAL,
            lineterminator="\n",
        )
        self.header = self._csv_line(self.columns) if self.csv and opts["header"] else b""

    def _csv_line(self, cells: list[Any]) -> bytes:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(cells)
        return self._buf.getvalue().encode()

    def _column(self, group: str, key: str) -> str | None:
        """`group.key`, or None when the definition leaves that value out (cached: a million guests share them)."""
        names = self._columns.get(group)
        if names is None:
            names = self._columns[group] = {}
        if key not in names:
            column = f"{group}.{key}"
            wanted = (self.ext_groups is None or group in self.ext_groups) and (
                self.ext_attrs is None or column in self.ext_attrs or key in self.ext_attrs
            )
            names[key] = column if wanted else None
        return names[key]

    def extension_values(self, exts: dict[str, Any], out: dict[str, Any] | None = None) -> dict[str, Any]:
        out = {} if out is None else out
        columns = self._columns
        for group, ext in exts.items():
            names = columns.get(group)
            for key, value in ext["values"].items():
                column = names.get(key, _UNSEEN) if names is not None else _UNSEEN
                if column is _UNSEEN:
                    column = self._column(group, key)
                    names = columns[group]
                if column is not None:
                    out[column] = value
        return out

    def encode(self, ref: str, data: dict[str, Any], exts: dict[str, Any], orders: list[Any] | None) -> bytes:
        record: dict[str, Any] = {"guestRef": ref}
        for name in self.attributes:
            if name in data:
                record[name] = data[name]
        if exts and self.any_extensions:
            self.extension_values(exts, record)
        if self.include_orders:
            record["orders"] = orders or []
        if not self.csv:
            return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        return self._csv_line([_cell(record.get(c)) for c in self.columns])

    def encode_removed(self, ref: str) -> bytes:
        if not self.csv:
            return orjson.dumps({"guestRef": ref}, option=orjson.OPT_APPEND_NEWLINE)
        return self._csv_line([ref])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return value


class ExportService:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._run_lock = threading.Lock()

    # -- definitions ---------------------------------------------------------------------------------------

    def create_definition(self, body: Any) -> dict[str, Any]:
        d = check_definition(body)
        ref = str(uuid.uuid4())
        now = iso(self.sandbox.clock.now())
        with self.sandbox.store.write() as conn:
            if conn.execute("SELECT 1 FROM export_definitions WHERE friendly_id = ?", (d["friendlyId"],)).fetchone():
                raise DefinitionError(f"an export with friendlyId {d['friendlyId']} already exists")
            conn.execute(
                "INSERT INTO export_definitions(ref, friendly_id, created_at, modified_at, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (ref, d["friendlyId"], now, now, orjson.dumps(d)),
            )
        return self.get_definition(ref) or {}

    def update_definition(self, key: str, body: Any) -> dict[str, Any] | None:
        current = self.get_definition(key)
        if current is None:
            return None
        merged = {k: v for k, v in current.items() if k in DEFINITION_KEYS}
        merged.update(body if isinstance(body, dict) else {})
        merged["friendlyId"] = current["friendlyId"]  # the id never changes
        d = check_definition(merged)
        with self.sandbox.store.write() as conn:
            conn.execute(
                "UPDATE export_definitions SET data = ?, modified_at = ? WHERE ref = ?",
                (orjson.dumps(d), iso(self.sandbox.clock.now()), current["ref"]),
            )
        return self.get_definition(current["ref"])

    def get_definition(self, key: str) -> dict[str, Any] | None:
        row = (
            self.sandbox.store.read()
            .execute(
                "SELECT ref, created_at, modified_at, data FROM export_definitions WHERE ref = ? OR friendly_id = ?",
                (key, key),
            )
            .fetchone()
        )
        if row is None:
            return None
        return {"ref": row[0], **orjson.loads(row[3]), "createdAt": row[1], "modifiedAt": row[2]}

    def list_definitions(self) -> list[dict[str, Any]]:
        rows = self.sandbox.store.read().execute("SELECT ref FROM export_definitions ORDER BY created_at, ref")
        return [d for (ref,) in rows.fetchall() if (d := self.get_definition(ref))]

    def delete_definition(self, key: str) -> bool:
        d = self.get_definition(key)
        if d is None:
            return False
        with self.sandbox.store.write() as conn:
            conn.execute("DELETE FROM export_definitions WHERE ref = ?", (d["ref"],))
            conn.execute("DELETE FROM export_members WHERE definition_ref = ?", (d["ref"],))
        return True

    # -- runs ----------------------------------------------------------------------------------------------

    def run(self, key: str, execution_type: str = "INSTANT_RUN") -> dict[str, Any] | None:
        definition = self.get_definition(key)
        if definition is None:
            return None
        with self._run_lock:  # one run at a time keeps delta membership consistent
            return self._run(definition, execution_type)

    def _run(self, definition: dict[str, Any], execution_type: str) -> dict[str, Any]:
        sandbox = self.sandbox
        store = sandbox.store
        cfg = sandbox.config
        start = sandbox.clock.now()
        guests_table, orders_table, as_of = store.segment_tables()
        # CDP segments on data up to midnight UTC of the previous day (facts §7.1): the dataset date.
        dataset_date = (as_of - timedelta(days=1)).date().isoformat() if store.nightly else as_of.date().isoformat()
        predicate, needs_orders = compile_segment(definition.get("segment"))
        delta = definition["definitionType"] == "DELTA"
        execution_ref = str(uuid.uuid4())
        folder = object_path(
            store.files_dir, EXPORT_BUCKET, f"{cfg.client_key}/{definition['ref']}/{execution_ref}/x"
        ).parent
        folder.mkdir(parents=True, exist_ok=True)
        conn = store.read()
        ext_columns: list[str] = []
        if definition["format"] == "CSV" and definition["includeExtensions"] is not False:
            ext_columns = self._extension_columns(conn, guests_table, definition)
        encoder = RecordEncoder(definition, ext_columns)
        suffix = "csv" if definition["format"] == "CSV" else "json"
        split, level = cfg.export_split_size, cfg.export_gzip_level
        main = SplitWriter(folder, "add" if delta else "part", suffix, split, level, "add" if delta else None,
                           header=encoder.header)  # fmt: skip
        everyone = not definition.get("segment") or not definition["segment"].get("rules")
        # Without rules the dates are not needed (NULL placeholders keep the row layout).
        columns = (
            "g.ref, NULL, NULL, g.data, g.exts" if everyone else "g.ref, g.created_at, g.modified_at, g.data, g.exts"
        )
        joins = ""
        params: tuple[Any, ...] = ()
        if needs_orders:
            columns += ", o.n, o.total, o.first, o.last, o.st"
            joins += (
                " LEFT JOIN (SELECT guest_ref, count(*) n, sum(price) total, min(ordered_at) first,"
                f" max(ordered_at) last, group_concat(DISTINCT status) st FROM {orders_table} GROUP BY guest_ref) o"
                " ON o.guest_ref = g.ref"
            )
        if delta:
            # Whether the guest was in the audience of the previous run (export_members), looked up by SQLite.
            columns += ", m.guest_ref IS NOT NULL"
            joins += " LEFT JOIN export_members m ON m.definition_ref = ? AND m.guest_ref = g.ref"
            params = (definition["ref"],)
        select = f"SELECT {columns} FROM {guests_table} g{joins}"
        members = _MemberSpool(store.files_dir / "scratch" / f"members-{execution_ref}.db") if delta else None
        total = 0
        order_conn = store.read()
        loads = orjson.loads
        encode = encoder.encode
        lines: list[bytes] = []
        was_member = 10 if needs_orders else 5
        with paused_gc():
            for row in conn.execute(select, params):
                ref = row[0]
                data = loads(row[3])
                exts = loads(row[4]) if row[4] else {}
                if not everyone:
                    facts = GuestFacts(ref, row[1], row[2], data, exts)
                    if needs_orders:
                        facts.orders = {
                            "count": row[5] or 0,
                            "totalPrice": row[6] or 0,
                            "firstOrderedAt": row[7],
                            "lastOrderedAt": row[8],
                            "statuses": row[9].split(",") if row[9] else [],
                        }
                    if not predicate(facts):
                        continue
                total += 1
                if members is not None:
                    members.add(ref)
                    if row[was_member]:
                        continue
                orders = self._orders(order_conn, orders_table, ref) if encoder.include_orders else None
                lines.append(encode(ref, data, exts, orders))
                if len(lines) >= BLOCK_LINES:
                    main.write_many(lines)
                    lines = []
            main.write_many(lines)
        files = main.close()
        removed = 0
        if members is not None:
            remover = SplitWriter(folder, "remove", suffix, split, level, "remove")
            try:
                path = members.finish()
                removed = self._diff_members(conn, path, definition["ref"], remover, encoder)
            finally:
                files += remover.close()
                members.discard()
        added = sum(f.records for f in files if f.delta_action != "remove")
        end = sandbox.clock.now()
        report = {
            "clientKey": cfg.client_key,
            "executionRef": execution_ref,
            "definitionRef": definition["ref"],
            "friendlyId": definition["friendlyId"],
            "executionType": execution_type,
            "status": "SUCCESS",
            "definitionType": definition["definitionType"],
            "segmentExecutionType": "ON_DEMAND",
            "total": total,
            "filterMatchedGuests": total,
            "filterNotMatchedGuests": 0,
            "filterFailures": 0,
            "successes": added + removed if delta else total,
            "failures": 0,
            "successAdd": added if delta else 0,
            "successRemove": removed,
            "programmableErrors": [],
            "filterErrors": [],
            "errorLogs": [],
            "datasetDate": dataset_date,
            "startTime": iso(start),
            "endTime": iso(end),
        }
        file_meta = [
            {"name": f.name, "bytes": f.bytes, "records": f.records, "deltaAction": f.delta_action} for f in files
        ]
        with store.write() as wconn:
            wconn.execute(
                "INSERT INTO export_executions(ref, definition_ref, created_at, report, files) VALUES (?, ?, ?, ?, ?)",
                (execution_ref, definition["ref"], iso(end), orjson.dumps(report), orjson.dumps(file_meta)),
            )
        return report

    def _diff_members(
        self, conn: sqlite3.Connection, path: Path, definition_ref: str, remover: SplitWriter, encoder: RecordEncoder
    ) -> int:
        """Write the remove records (members of the previous run no longer in the audience, in ref order) and make
        this run's audience the previous one, all in SQL against the spooled members: memory stays flat."""
        conn.execute("ATTACH DATABASE ? AS spool", (str(path),))
        try:
            removed = 0
            lines: list[bytes] = []
            for (ref,) in conn.execute(
                "SELECT guest_ref FROM export_members WHERE definition_ref = ?"
                " AND guest_ref NOT IN (SELECT ref FROM spool.members) ORDER BY guest_ref",
                (definition_ref,),
            ):
                lines.append(encoder.encode_removed(ref))
                removed += 1
                if len(lines) >= BLOCK_LINES:
                    remover.write_many(lines)
                    lines = []
            remover.write_many(lines)
            with self.sandbox.store.write() as wconn:
                wconn.execute("DELETE FROM export_members WHERE definition_ref = ?", (definition_ref,))
                wconn.execute(
                    "INSERT INTO export_members(definition_ref, guest_ref) SELECT ?, ref FROM spool.members",
                    (definition_ref,),
                )
        finally:
            conn.execute("DETACH DATABASE spool")
        return removed

    def _extension_columns(self, conn: Any, table: str, definition: dict[str, Any]) -> list[str]:
        if definition.get("extensionAttributes"):
            return list(definition["extensionAttributes"])
        encoder = RecordEncoder({**definition, "format": "JSON", "includeOrders": False, "attributes": []}, [])
        seen: dict[str, None] = {}
        for (exts_json,) in conn.execute(f"SELECT exts FROM {table} WHERE exts IS NOT NULL"):
            for column in encoder.extension_values(orjson.loads(exts_json)):
                seen.setdefault(column, None)
        return sorted(seen)

    def _orders(self, conn: Any, table: str, guest_ref: str) -> list[dict[str, Any]]:
        """The guest's last `export_max_orders` (20) orders by orderedAt, whatever their age (facts §7.4).

        The export's order objects carry no items, so the 100-items cap has nothing to cut; a guest holds at
        most six extension groups (facts §4.1), so the 600-extensions cap never cuts one either."""
        rows = conn.execute(
            f"SELECT ref, data FROM {table} WHERE guest_ref = ? ORDER BY ordered_at DESC, ref LIMIT ?",
            (guest_ref, self.sandbox.config.export_max_orders),
        )
        out = []
        for ref, data_json in rows:
            data = orjson.loads(data_json)
            out.append({"orderRef": ref, **{k: data[k] for k in ORDER_EXPORT_KEYS if k in data}})
        return out

    # -- REST views ----------------------------------------------------------------------------------------

    def reports(self, definition_ref: str) -> list[dict[str, Any]]:
        rows = self.sandbox.store.read().execute(
            "SELECT report FROM export_executions WHERE definition_ref = ? ORDER BY created_at DESC, rowid DESC",
            (definition_ref,),
        )
        return [orjson.loads(r[0]) for r in rows]

    def latest_execution(self, definition_ref: str) -> str | None:
        row = (
            self.sandbox.store.read()
            .execute(
                "SELECT ref FROM export_executions WHERE definition_ref = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (definition_ref,),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def listing(self, base: str, execution_ref: str) -> dict[str, Any] | None:
        row = (
            self.sandbox.store.read()
            .execute("SELECT definition_ref, report, files FROM export_executions WHERE ref = ?", (execution_ref,))
            .fetchone()
        )
        if row is None:
            return None
        report, files = orjson.loads(row[1]), orjson.loads(row[2])
        cfg = self.sandbox.config
        expire_at = self.sandbox.clock.now() + timedelta(seconds=cfg.download_url_ttl_seconds)
        prefix = f"{report['clientKey']}/{row[0]}/{execution_ref}"
        exports = []
        for f in files:
            entry: dict[str, Any] = {
                "url": self.sandbox.signer.presign(base, "GET", EXPORT_BUCKET, f"{prefix}/{f['name']}", expire_at),
                "sizeKB": math.ceil(f["bytes"] / 1024),
            }
            if f["deltaAction"]:
                entry["deltaAction"] = f["deltaAction"]
            exports.append(entry)
        return {
            "executionRef": execution_ref,
            "definitionRef": row[0],
            "friendlyId": report["friendlyId"],
            "clientKey": report["clientKey"],
            "expireAt": iso(expire_at),
            "numberOfFiles": len(exports),
            "totalSizeKB": sum(e["sizeKB"] for e in exports),
            "exports": exports,
        }
