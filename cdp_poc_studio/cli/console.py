"""Terminal output of a run: a one-line progress bar on a terminal, and the one-screen summary."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO

from cdp_poc_studio.domain.progress import STAGE_LABELS, StageEvent
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.reports import OUTCOME_LABELS


class ProgressLine:
    """Renders a run's stage events as one status line on a terminal (at most ten redraws a second).

    Prints nothing when the stream is not a terminal. A stage's closing event always draws, so the line ends on
    each stage's final count.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._width = 0

    def __call__(self, event: StageEvent) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and not event.finished:
            return
        self._last = now
        # One terminal line at most: a wrapped line would not be redrawn in place.
        text = render(event)[: shutil.get_terminal_size((121, 24)).columns - 1]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


def render(event: StageEvent) -> str:
    """One line for a stage event: label, count, bar, rate, time left, errors, retries, state and detail."""
    text = f"{STAGE_LABELS[event.stage]:<17}"
    if event.total:
        fraction = event.fraction or 0.0
        text += f" {event.done:>9,}/{event.total:,} {event.unit} [{'#' * int(fraction * 24):<24}] {fraction:4.0%}"
    elif event.done:
        text += f" {event.done:>9,} {event.unit}"
    if event.rate and event.state == "running":
        text += f"  {event.rate:,.0f}/s"
    if event.eta_seconds and event.state == "running":
        text += f"  ETA {event.eta_seconds:,.0f} s"
    if event.errors:
        text += f"  {event.errors:,} errors"
    if event.retries:
        text += f"  {event.retries:,} retried"
    if event.state != "running":
        text += f"  {event.state}"
    if event.detail:
        text += f"  {event.detail}"
    return text


def summary(report: RunReport, report_folder: str) -> str:
    """The one-screen summary printed at the end of `run`, `demo` and `resume`."""
    lines = [
        f"{report.scenario_name}: {report.verdict.upper()}",
        f"  target      {report.target}",
        f"  loaded by   {report.load}; pulled back by {', '.join(report.pull_back)}",
        f"  seed        {report.seed} (run tag {report.run_tag})",
        "  stages      "
        + ", ".join(
            f"{s.name} {s.seconds:.1f}s" + (f" ({s.status})" if s.status != "done" else "") for s in report.stages
        ),
    ]
    for source in report.sources:
        lines.append(
            f"  {source.source:<11} {source.records_found:,}/{source.records_expected:,} records found, "
            f"{100 * source.field_pass_rate:.2f} % of fields pass"
            + (f", {source.records_missing} missing" if source.records_missing else "")
            + (f", {source.records_rejected} rejected" if source.records_rejected else "")
            + (f", {source.records_waiting} waiting for the snapshot" if source.records_waiting else "")
        )
    if report.rows is not None:
        rows = report.rows
        lines.append(
            f"  rows        {rows.read:,} read, {rows.mapped:,} mapped, {rows.verified:,} verified"
            + (f", {rows.invalid:,} invalid" if rows.invalid else "")
            + (f", {rows.rejected_by_linter:,} rejected by the linter" if rows.rejected_by_linter else "")
            + (f", {rows.rejected_by_cdp:,} rejected by CDP" if rows.rejected_by_cdp else "")
            + (f", {rows.differs:,} with differences" if rows.differs else "")
            + f" (per row: {rows.log} in the run folder)"
        )
        if rows.order_rows:
            lines.append(
                f"  order rows  {rows.order_rows:,} read, {rows.order_rows_verified:,} verified"
                + (f", {rows.order_rows_invalid:,} not sent" if rows.order_rows_invalid else "")
            )
    for check in report.thresholds:
        if not check.passed:
            lines.append(f"  FAILED      {check.name}: {check.actual:g} against a limit of {check.limit:g}")
    failing = [d for d in report.differences if d.outcome.fails]
    explained = sum(1 for d in report.differences if d.outcome.explained)
    if failing:
        lines.append(f"  differences {len(failing):,} failing; the first:")
        for difference in failing[:5]:
            lines.append(
                f"    {difference.source} {difference.record} {difference.path}: "
                f"{OUTCOME_LABELS[difference.outcome]} [{difference.rule}] ({difference.explanation})"
                + (f" from source {difference.origin}" if difference.origin else "")
            )
    if explained:
        rules = sorted({d.rule for d in report.differences if d.outcome.explained})
        lines.append(
            f"  explained   {explained:,} difference(s) by CDP's own semantics, not failures "
            f"({', '.join(rules)}; see docs/verification.md)"
        )
    if report.waiting_until:
        lines.append(
            f"  waiting     the export can be checked after {report.waiting_until:%Y-%m-%d %H:%M} UTC: "
            "run `cdp-poc-studio resume` on the run folder then"
        )
    lines.append(f"  report      {report_folder}/report.html (and report.json, junit.xml)")
    return "\n".join(lines)
