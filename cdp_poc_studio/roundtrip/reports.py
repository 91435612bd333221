"""Writing a run's reports: self-contained HTML, JSON (report.json) and JUnit XML, plus the evidence bundle."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cdp_poc_studio.resources import TEMPLATES
from cdp_poc_studio.roundtrip.charts import bars, stacked_bars
from cdp_poc_studio.roundtrip.normalise import OUTCOME_RULES, Outcome
from cdp_poc_studio.roundtrip.report_model import RunReport
from cdp_poc_studio.roundtrip.rules import RULES, Rule
from cdp_poc_studio.roundtrip.verify import field_pattern

OUTCOME_LABELS = {
    Outcome.EQUAL: "equal",
    Outcome.NORMALISED: "equal after normalisation",
    Outcome.RECORD_MISSING: "record missing",
    Outcome.EXTRA_RECORD: "extra record",
    Outcome.FIELD_MISSING: "field missing",
    Outcome.VALUE_CHANGED: "value changed",
    Outcome.TYPE_CHANGED: "type changed",
    Outcome.EXTRA_FIELD: "extra field",
    Outcome.EXTRA_ORDER: "extra order",
    Outcome.EXTRA_ITEM: "extra order item",
    Outcome.DUPLICATE: "duplicate guest",
    Outcome.RELINKED: "linked to another guest",
    Outcome.MAPPING_ERROR: "mapping error",
    Outcome.REJECTED: "rejected at upload",
    Outcome.BEYOND_RETENTION: "beyond export retention",
    Outcome.NOT_IN_SNAPSHOT: "not yet in the segment snapshot",
    Outcome.UNCHANGED_IN_DELTA: "unchanged since the previous delta",
}


def write_reports(report: RunReport, folder: Path) -> dict[str, Path]:
    """Write report.html, report.json and junit.xml into `folder`; returns their paths by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"html": folder / "report.html", "json": folder / "report.json", "junit": folder / "junit.xml"}
    _atomic_write(paths["json"], orjson.dumps(report.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
    _atomic_write(paths["html"], render_html(report).encode("utf-8"))
    _atomic_write(paths["junit"], render_junit(report))
    return paths


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def render_html(report: RunReport) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["json"] = lambda value: orjson.dumps(value, default=str).decode()
    causes: Counter[str] = Counter()
    for source in report.sources:
        for outcome, count in source.outcome_totals.items():
            if not outcome.passes and count:  # explained outcomes are causes too, shown apart from failures
                causes[OUTCOME_LABELS[outcome]] += count
    field_charts = {
        source.source: stacked_bars([(f.path, f.passed, f.failed) for f in source.fields][:60])
        for source in report.sources
    }
    return env.get_template("report.html.j2").render(
        report=report,
        labels=OUTCOME_LABELS,
        field_charts=field_charts,
        cause_chart=bars([(cause, float(n)) for cause, n in causes.most_common()]),
        stage_chart=bars([(s.name, s.seconds) for s in report.stages if s.seconds], unit=" s"),
        traces={trace.record: trace.stages for trace in report.traces},
        rules=_rules_used(report),
    )


def _rules_used(report: RunReport) -> list[Rule]:
    """The rules named by the report's outcomes, in the order of docs/verification.md."""
    named = {r for row in (*report.differences, *report.normalised_examples) for r in row.rule.split(", ") if r}
    return [rule for rule in RULES.values() if rule.id in named]


def render_junit(report: RunReport) -> bytes:
    """One test suite per pulled-back source, one test case per field, plus the thresholds."""
    suites = ElementTree.Element("testsuites", name=report.scenario_name)
    total_tests = total_failures = 0
    by_field: dict[tuple[str, str], list[str]] = {}
    for d in report.differences:
        line = f"{d.record}: {OUTCOME_LABELS[d.outcome]} [{d.rule}]: {d.explanation}"
        by_field.setdefault((d.source, field_pattern(d.path)), []).append(line)
    # Explained and normalised outcomes are not failures, but CI users see them: per test case in system-out,
    # their counts and examples naming each rule and where it is written down.
    notes: dict[tuple[str, str], list[str]] = {}
    for d in (*report.differences, *report.normalised_examples):
        if d.outcome.explained or d.outcome.passes:
            notes.setdefault((d.source, field_pattern(d.path)), []).append(
                f"{d.record}: {OUTCOME_LABELS[d.outcome]} [{d.rule}: {d.rule_source}]: {d.explanation}"
            )
    for source in report.sources:
        suite = ElementTree.SubElement(suites, "testsuite", name=f"{report.scenario_name} / {source.source}")
        tests = failures = skipped = 0
        for summary in source.fields:
            tests += 1
            case = ElementTree.SubElement(suite, "testcase", name=summary.path, classname=f"cdp.{source.source}")
            if summary.failed:
                failures += 1
                counts = ", ".join(f"{OUTCOME_LABELS[o]}: {n}" for o, n in summary.counts.items() if o.fails)
                failure = ElementTree.SubElement(
                    case, "failure", message=f"{summary.failed} of {summary.passed + summary.failed} failed ({counts})"
                )
                failure.text = "\n".join(by_field.get((source.source, summary.path), [])[:50])
            elif summary.explained and not summary.passed:
                # Nothing was judged: every record is waiting for the snapshot or beyond retention.
                skipped += 1
                reasons = ", ".join(f"{OUTCOME_LABELS[o]}: {n}" for o, n in summary.counts.items() if o.explained)
                ElementTree.SubElement(case, "skipped", message=reasons)
            explained = {o: n for o, n in summary.counts.items() if (o.explained or o is Outcome.NORMALISED) and n}
            if explained:
                counts = ", ".join(f"{OUTCOME_LABELS[o]}: {n}{_rule_note(o)}" for o, n in explained.items())
                lines = notes.get((source.source, summary.path), [])[:50]
                ElementTree.SubElement(case, "system-out").text = "\n".join([counts, *lines])
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        suite.set("errors", "0")
        total_tests += tests
        total_failures += failures
    suite = ElementTree.SubElement(suites, "testsuite", name=f"{report.scenario_name} / thresholds")
    for check in report.thresholds:
        case = ElementTree.SubElement(suite, "testcase", name=check.name, classname="cdp.thresholds")
        if not check.passed:
            ElementTree.SubElement(case, "failure", message=f"{check.actual:g} against a limit of {check.limit:g}")
    threshold_failures = sum(not c.passed for c in report.thresholds)
    suite.set("tests", str(len(report.thresholds)))
    suite.set("failures", str(threshold_failures))
    suite.set("skipped", "0")
    suite.set("errors", "0")
    suites.set("tests", str(total_tests + len(report.thresholds)))
    suites.set("failures", str(total_failures + threshold_failures))
    ElementTree.indent(suites)
    return bytes(ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True))


def _rule_note(outcome: Outcome) -> str:
    """` [X-ORDERS-20: docs/verification.md#x-orders-20, <evidence>]` for an outcome with one rule of its own."""
    rule = RULES.get(OUTCOME_RULES.get(outcome, ""))
    return f" [{rule.id}: {rule.link}, {rule.source}]" if rule is not None else ""


def bundle(run_folder: Path, destination: Path | None = None) -> Path:
    """The whole run folder zipped: the evidence for an architecture review."""
    destination = destination or run_folder.with_suffix(".zip")
    temporary = destination.with_name(f".{destination.name}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(run_folder.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    archive.write(path, Path(run_folder.name) / path.relative_to(run_folder))
        temporary.replace(destination)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    return destination
