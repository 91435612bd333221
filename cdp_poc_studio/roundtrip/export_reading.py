"""Reading an audience export as its definition says, and what the verifier expects of it (docs/verification.md).

Written from the reference (cdp-api-facts.md §7), independently of the sandbox's writer: the columns of a CSV
without a header row are the definition's (guestRef, the attributes, the extension columns, orders); a delta
export holds only the guests added to and removed from the audience since the previous run, so the previous
audience is rebuilt from the earlier runs' add and remove files; an export carries a guest's last 20 orders by
orderedAt (§7.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cdp_poc_studio.cdp.exports import AudienceExportClient, ExportFormat, iter_export_file
from cdp_poc_studio.domain.flatten import possible_keys
from cdp_poc_studio.domain.join_keys import email_key
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.scenario import ExportSpec
from cdp_poc_studio.roundtrip.verify import identifier_keys

# Facts §7.4: "last 20 orders by orderedAt, up to 100 order items per order, last 600 guest data extensions".
EXPORT_ORDER_LIMIT = 20


def extension_columns(spec: ExportSpec, schema: ExtensionSchema) -> list[str]:
    """Every `group.key` column the schema can produce, in schema order: the columns of a headerless CSV."""
    if not spec.include_extensions:
        return []
    return [
        f"{group}.{key.key}"
        for group, fields in schema.guest.items()
        for key in possible_keys(schema, "guest", group, fields)
    ]


def export_format(spec: ExportSpec, schema: ExtensionSchema) -> ExportFormat:
    """How to read the export's files: JSON lines, or CSV with the definition's separator, header and quoting."""
    if spec.format != "csv":
        return ExportFormat()
    names = None
    if not spec.csv.header:
        orders = ["orders"] if spec.include_orders else []
        names = ("guestRef", *spec.attributes, *extension_columns(spec, schema), *orders)
    return ExportFormat.csv(
        delimiter=spec.csv.separator, header=spec.csv.header, quoting=spec.csv.quote, fieldnames=names
    )


def row_keys(row: Mapping[str, Any]) -> list[str]:
    """The join keys of an export row: its identifiers (`provider:id`) and `email:<address>`."""
    keys = list(identifier_keys(row.get("identifiers")))
    if row.get("email"):
        keys.append(email_key(row["email"]))
    return keys


def download_previous_runs(
    client: AudienceExportClient, friendly_id: str, current: str | None, folder: Path, cancel: CancelToken
) -> int:
    """The files of every earlier run of a delta export, oldest first, in `folder/<n>/`; returns the run count."""
    reports = [r for r in client.reports(friendly_id) if r.execution_ref != current and r.status in (None, "SUCCESS")]
    reports.sort(key=lambda r: (r.start_time or "", r.end_time or ""))
    for index, report in enumerate(reports):
        listing = client.execution_export(report.execution_ref)
        client.download_all(listing, folder / f"{index:04d}", cancel=cancel)
    return len(reports)


def read_previous_audience(folder: Path, fmt: ExportFormat) -> set[str]:
    """The join keys of the guests in the audience after the previous run, from the earlier runs' files."""
    members: dict[str, list[str]] = {}
    if not folder.is_dir():
        return set()
    for run in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(run.glob("*.gz"))
        for path in files:
            removed = "-remove-" in path.name
            for row in iter_export_file(path, _remove_format(fmt) if removed else fmt):
                ref = str(row.get("guestRef", ""))
                if removed:
                    members.pop(ref, None)
                elif ref:
                    members[ref] = row_keys(row)
    return {key for keys in members.values() for key in keys}


def _remove_format(fmt: ExportFormat) -> ExportFormat:
    """Remove files hold the guestRef only."""
    if fmt.kind != "csv" or fmt.header:
        return fmt
    return ExportFormat.csv(delimiter=fmt.delimiter, header=False, quoting=fmt.quoting, fieldnames=("guestRef",))
