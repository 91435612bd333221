"""The results of a run as one document: rendered to HTML and JUnit, and written as JSON (report.json).

The JSON schema is `RunReport.model_json_schema()`, kept in docs/report-schema.json; `report_version` changes
whenever a field changes meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cdp_poc_studio.roundtrip.capacity import CapacityPlan
from cdp_poc_studio.roundtrip.normalise import Outcome
from cdp_poc_studio.roundtrip.rules import RULES
from cdp_poc_studio.roundtrip.verify import Comparison, Difference

REPORT_VERSION = 2
DIFFERENCE_CAP = 10_000

StageStatus = Literal["done", "skipped", "waiting", "failed", "cancelled"]
Verdict = Literal["passed", "failed", "waiting", "incomplete"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageTiming(_Model):
    name: str
    status: StageStatus
    seconds: float = 0.0
    records: int = 0
    note: str = ""


class FieldSummary(_Model):
    path: str
    counts: dict[Outcome, int]

    @property
    def passed(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome.passes)

    @property
    def failed(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome.fails)

    @property
    def explained(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome.explained)


class DifferenceRow(_Model):
    source: str
    record: str
    path: str
    outcome: Outcome
    expected: Any = None
    actual: Any = None
    explanation: str = ""
    # A [source] sample's row and column the difference comes from ("row 12, column 'Date of birth'").
    origin: str = ""
    # The rule(s) of docs/verification.md behind the outcome, comma-separated ids (rules.RULES), and where
    # each is written down, so that every explained or normalised outcome names its rule and its source.
    rule: str = ""
    rule_source: str = ""


class RowsSummary(_Model):
    """Every row of a [source] sample accounted for (the per-row log is rows.ndjson.gz in the run folder)."""

    file: str
    read: int = 0
    mapped: int = 0
    invalid: int = 0
    rejected_by_linter: int = 0
    rejected_by_cdp: int = 0
    verified: int = 0
    differs: int = 0
    # The rows of the orders file ([source.orders]), when the sample has one: read, not sent, and verified.
    order_file: str | None = None
    order_rows: int = 0
    order_rows_invalid: int = 0
    order_rows_verified: int = 0
    log: str = "rows.ndjson.gz"


class SourceSummary(_Model):
    source: Literal["rest", "export", "decisions"]
    records_expected: int
    records_found: int
    records_missing: int
    records_rejected: int
    records_waiting: int
    records_extra: int
    records_unchanged: int = 0
    field_pass_rate: float
    outcome_totals: dict[Outcome, int]
    fields: list[FieldSummary]


class ThresholdCheck(_Model):
    name: str
    limit: float
    actual: float
    passed: bool


class Trace(_Model):
    """One record through every stage, from the run ledger."""

    record: str
    stages: dict[str, Any]


class SandboxWarnings(_Model):
    """The calls the sandbox answered on an inferred rule: a real tenant may answer them differently."""

    calls: int = Field(description="calls that carried at least one sandbox warning")
    examples: list[str] = Field(description="a few of them: the call and its warning, from requests.ndjson")


class RunReport(_Model):
    report_version: int = REPORT_VERSION
    run_id: str
    scenario_name: str
    started_at: datetime
    finished_at: datetime | None = None
    versions: dict[str, str]
    seed: int
    run_tag: str
    target: str
    load: str
    pull_back: list[str]
    settings: dict[str, Any] = Field(description="the scenario as run; it never holds secrets")
    stages: list[StageTiming] = []
    sources: list[SourceSummary] = []
    differences: list[DifferenceRow] = []
    differences_total: int = 0
    normalised_examples: list[DifferenceRow] = []
    thresholds: list[ThresholdCheck] = []
    verdict: Verdict = "incomplete"
    waiting_until: datetime | None = None
    traces: list[Trace] = []
    rows: RowsSummary | None = None
    # How long a full load would take by Batch and by REST, from this run's figures (roundtrip.capacity).
    capacity: CapacityPlan | None = None
    # Present only when the sandbox warned on some call (requests.ndjson has every one).
    sandbox_warnings: SandboxWarnings | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


def summarise(comparison: Comparison) -> SourceSummary:
    return SourceSummary(
        source=comparison.source,
        records_expected=comparison.records_expected,
        records_found=comparison.records_found,
        records_missing=comparison.records_missing,
        records_rejected=comparison.records_rejected,
        records_waiting=comparison.records_waiting,
        records_extra=comparison.records_extra,
        records_unchanged=comparison.records_unchanged,
        field_pass_rate=comparison.field_pass_rate,
        outcome_totals=dict(comparison.outcome_totals),
        fields=[FieldSummary(path=p, counts=dict(c)) for p, c in sorted(comparison.field_counts.items())],
    )


def difference_rows(comparisons: list[Comparison]) -> tuple[list[DifferenceRow], int, list[DifferenceRow]]:
    """Failing and explained differences (capped), their true total, and examples of normalised passes."""
    rows: list[DifferenceRow] = []
    total = 0
    examples: list[DifferenceRow] = []
    for comparison in comparisons:
        total += len(comparison.differences)
        rows.extend(_row(d) for d in comparison.differences[: max(0, DIFFERENCE_CAP - len(rows))])
        examples.extend(_row(d) for d in comparison.normalised_examples)
    return rows, total, examples


def _row(difference: Difference) -> DifferenceRow:
    return DifferenceRow(
        source=difference.source,
        record=difference.record,
        path=difference.path,
        outcome=difference.outcome,
        expected=difference.expected,
        actual=difference.actual,
        explanation=difference.explanation,
        rule=difference.rule,
        rule_source="; ".join(
            f"{RULES[r].link} ({RULES[r].source})" for r in difference.rule.split(", ") if r in RULES
        ),
    )
