"""A run folder: everything one run made, so that it can be resumed, re-reported and handed over as evidence.

scenario.toml          the scenario as run (schema inlined), never secrets
run.json               run state: id, times, target, stage statuses, waiting-until
generated.ndjson.gz    one line per generated guest: design values, nested extensions, orders
batches/               the batch files sent (batch loads)
ledger.sqlite          one row per record through every stage (cdp.ledger)
requests.ndjson        the request log, secrets masked
readback.ndjson.gz     what the REST read-back returned
export/                the audience export files pulled back
report/                report.html, report.json, junit.xml

Each file with lines of our own has its pydantic model here (the scenario, run state and report have theirs in
their modules), so a line is written and read back through one definition.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from cdp_poc_studio.roundtrip.report_model import StageTiming


class GeneratedOrderLine(BaseModel):
    """An order of a generated guest: its batch ref, its wire value, and the nested values of its extensions."""

    ref: str
    value: dict[str, Any]
    nested: dict[str, Any] | None = None
    items: list[dict[str, Any] | None] = []


class GeneratedLine(BaseModel):
    """One line of generated.ndjson.gz: a guest as designed (before mapping rules), with its orders."""

    seq: int
    key: str
    ref: str
    guest: dict[str, Any]
    nested: dict[str, dict[str, Any]]
    orders: list[GeneratedOrderLine] = []


def read_generated(path: Path) -> Iterator[GeneratedLine]:
    with gzip.open(path, "rb") as stream:
        for line in stream:
            yield GeneratedLine.model_validate_json(line)


class ReadbackItem(BaseModel):
    """An order item as CDP returned it: its attributes and its data extension."""

    data: dict[str, Any]
    extension: dict[str, Any] | None = None


class ReadbackOrder(BaseModel):
    data: dict[str, Any]
    extension: dict[str, Any] | None = None
    items: list[ReadbackItem] = []
    consumers: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []


class ReadbackGuest(BaseModel):
    ref: str
    data: dict[str, Any]
    extensions: dict[str, dict[str, Any]] = {}


class ReadbackLine(BaseModel):
    """One line of readback.ndjson.gz: what the REST read-back found for one sent guest (by its join key)."""

    key: str
    # How many guests CDP returned for the identifier: more than one means duplicates in CDP.
    matches: int = 0
    guest: ReadbackGuest | None = None
    # Every order CDP links to the guest (so an added or re-linked order shows, docs/verification.md).
    orders: list[ReadbackOrder] = []
    # The refs of the other guests holding the identifier (D-DUPLICATE).
    duplicates: list[str] = []
    # Sent orders not linked to this guest but found under another: referenceId -> those guests' refs (D-RELINKED).
    moved_orders: dict[str, list[str]] = {}


def read_readback(path: Path) -> Iterator[ReadbackLine]:
    with gzip.open(path, "rb") as stream:
        for line in stream:
            yield ReadbackLine.model_validate_json(line)


class RunState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    scenario_name: str
    started_at: datetime
    finished_at: datetime | None = None
    target: str
    target_kind: Literal["sandbox", "profile"]
    profile: str | None = None
    # The sandbox database the run went to, so that `resume` and `cleanup` reach the same data.
    sandbox_db: str | None = None
    sandbox_snapshot: Literal["immediate", "nightly"] | None = None
    stages: dict[str, StageTiming] = {}
    waiting_until: datetime | None = None
    # When the records were sent: the export compares against the segment snapshot taken after it.
    sent_at: datetime | None = None
    export_execution_ref: str | None = None
    verdict: str = "incomplete"

    def done(self, stage: str) -> bool:
        timing = self.stages.get(stage)
        return timing is not None and timing.status in ("done", "skipped")


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, root: Path, scenario_name: str, now: datetime | None = None) -> RunFolder:
        moment = now or datetime.now(UTC)
        slug = re.sub(r"[^a-z0-9]+", "-", scenario_name.lower()).strip("-") or "run"
        base = root / f"{moment:%Y%m%d-%H%M%S}-{slug}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        return cls(path)

    @property
    def scenario(self) -> Path:
        return self.path / "scenario.toml"

    @property
    def state_file(self) -> Path:
        return self.path / "run.json"

    @property
    def generated(self) -> Path:
        return self.path / "generated.ndjson.gz"

    @property
    def batches(self) -> Path:
        return self.path / "batches"

    @property
    def ledger(self) -> Path:
        return self.path / "ledger.sqlite"

    @property
    def requests(self) -> Path:
        return self.path / "requests.ndjson"

    @property
    def readback(self) -> Path:
        return self.path / "readback.ndjson.gz"

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def report(self) -> Path:
        return self.path / "report"

    @property
    def report_json(self) -> Path:
        return self.report / "report.json"

    def exists(self) -> bool:
        return self.state_file.is_file() and self.scenario.is_file()

    def load_state(self) -> RunState:
        if not self.exists():
            raise FileNotFoundError(f"{self.path} is not a run folder (no run.json and scenario.toml)")
        return RunState.model_validate_json(self.state_file.read_bytes())

    def save_state(self, state: RunState) -> None:
        temporary = self.state_file.with_name(".run.json.tmp")
        try:
            temporary.write_bytes(orjson.dumps(state.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
            temporary.replace(self.state_file)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
