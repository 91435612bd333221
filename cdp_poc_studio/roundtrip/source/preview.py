"""What the Map page shows for a sample: suggested rules, each rule's before and after, and one check for all.

The check is the run's own: the rows of the sample mapped by `SourceMapping` (transforms, then CDP's linter on
the exact record for the chosen API). A rule is ticked only when no record of the preview has a finding in its
column and its target is valid; the checker lists the same findings; the payload shown is the record they were
found in. Qt-free, so that the command line and the tests see the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cdp_poc_studio.domain.lint import Api
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.roundtrip.scenario import MappingRule
from cdp_poc_studio.roundtrip.source.mapper import Finding, MappedRow, MappingError, SourceMapping
from cdp_poc_studio.roundtrip.source.reader import SourceError, SourceFile, SourceRow, as_dict
from cdp_poc_studio.roundtrip.source.spec import IDENTIFIER_TARGET, LIST_ATTRIBUTES
from cdp_poc_studio.roundtrip.source.transforms import FALSE_WORDS, TRUE_WORDS
from cdp_poc_studio.roundtrip.source_mapping import SKIP

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m/%d/%Y", "%Y/%m/%d")
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")
_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class RowDraft:
    """One line of the Map page for a sample: the column(s) read, the target, and the transforms as text."""

    column: str  # one column, several joined by " + ", or "" for a constant
    target: str
    steps: str = ""
    # Kept from the scenario's rule, so that a round trip through the page loses nothing.
    provider: str | None = None
    required: bool = False

    @staticmethod
    def of(rule: MappingRule) -> RowDraft:
        from cdp_poc_studio.roundtrip.source.steps_text import format_steps

        return RowDraft(
            " + ".join(rule.columns), rule.target, format_steps(rule.transforms), rule.provider, rule.required
        )


def suggest_drafts(source: SourceFile, rows: Sequence[SourceRow]) -> list[RowDraft]:
    """A target and transforms for every column, from its name and its values in the sample."""
    from cdp_poc_studio.roundtrip.source_mapping import camel_case, suggest_target

    drafts: list[RowDraft] = []
    used: set[str] = set()
    for column in source.columns:
        target = suggest_target(column)
        if target in used:
            target = f"ext.{camel_case(column)}"
        used.add(target)
        values = [v for v in (as_dict(source, row).get(column) for row in rows) if v not in (None, "")]
        drafts.append(RowDraft(column, target, suggest_steps(target, values)))
    return drafts


def suggest_steps(target: str, values: Sequence[Any]) -> str:
    """Transforms that would turn these sample values into what CDP wants at `target` (text form)."""
    from cdp_poc_studio.roundtrip.source.steps_text import SEPARATOR

    texts = [v for v in values if isinstance(v, str)]
    steps: list[str] = []
    if any(t != t.strip() for t in texts):
        steps.append("trim")
    words = [t.strip() for t in texts]
    lowered = {w.lower() for w in words}
    if target == "email":
        steps.append("case:lower")
    elif target == "gender" and lowered:
        if lowered <= {"f", "m", "u", "female", "male", "unknown"}:
            steps.append("lookup:f=female,m=male,u=unknown,female=female,male=male,unknown=unknown")
    elif target == "country" and words and not all(_COUNTRY_CODE.match(w) for w in words):
        steps.append("country")
    elif target == "language" and words:
        steps.append("language")
    elif target in ("dateOfBirth", "passportExpiry") or (target.startswith("ext") and words and _dates(words)):
        formats = _dates(words)
        if formats:
            steps.append("date:" + ",".join(formats))
    elif target.startswith("ext") and words and lowered <= (TRUE_WORDS | FALSE_WORDS) and not lowered <= {"0", "1"}:
        steps.append("boolean")
    elif target.startswith("ext") and words and all(_DECIMAL_COMMA.match(w) or w.isdigit() for w in words):
        steps.append("number:," if any("," in w for w in words) else "number")
    elif target.startswith("ext") and words and all(_NUMBER.match(w) for w in words):
        steps.append("number")
    if target in LIST_ATTRIBUTES and any(";" in w for w in words):
        steps.append("split:;")
    return SEPARATOR.join(steps)


def _dates(words: Sequence[str]) -> list[str]:
    """The fewest formats (from the common ones) that read every value; empty when some value reads with none."""
    chosen: list[str] = []
    for word in words:
        if any(_parses(word, fmt) for fmt in chosen):
            continue
        fitting = next((fmt for fmt in DATE_FORMATS if _parses(word, fmt)), None)
        if fitting is None:
            return []
        chosen.append(fitting)
    return chosen


def _parses(word: str, fmt: str) -> bool:
    try:
        datetime.strptime(word, fmt)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------------------------------ the check


@dataclass
class Cell:
    before: Any
    after: Any = None
    error: str | None = None


@dataclass
class SamplePreview:
    """The drafts checked against the sample: per line its problem (or None), per record its mapped row."""

    drafts: list[RowDraft]
    rules: list[MappingRule | None]  # None: not sent, or the line's own problem made it unusable
    line_problems: dict[int, str] = field(default_factory=dict)  # a rule's own problem, or its first finding
    rule_problems: dict[int, str] = field(default_factory=dict)  # only the rules' own (bad target, bad steps)
    mapping_problem: str | None = None
    rows: list[MappedRow] = field(default_factory=list)
    cells: list[list[Cell]] = field(default_factory=list)  # per record, per line
    mapping: SourceMapping | None = None

    def findings(self) -> list[Finding]:
        return [finding for row in self.rows for finding in row.findings]

    def mapping_problems(self) -> list[str]:
        """The problems of the mapping itself, whatever the record: what the checker lists first."""
        out = [self.mapping_problem] if self.mapping_problem else []
        out += [f"{self.drafts[i].column or '(constant)'}: {p}" for i, p in sorted(self.rule_problems.items())]
        return out

    def rules_to_save(self) -> list[MappingRule]:
        return [rule for rule in self.rules if rule is not None]


def check_drafts(
    drafts: Sequence[RowDraft],
    source: SourceFile,
    rows: Sequence[SourceRow],
    schema: ExtensionSchema,
    *,
    provider: str,
    api: Api,
) -> SamplePreview:
    from cdp_poc_studio.roundtrip.source.steps_text import parse_steps

    preview = SamplePreview(list(drafts), [])
    for index, draft in enumerate(drafts):
        if draft.target in ("", SKIP):
            preview.rules.append(None)
            continue
        try:
            column: str | list[str] | None = draft.column or None
            if " + " in draft.column:
                column = [c.strip() for c in draft.column.split(" + ")]
            rule = MappingRule(
                column=column,
                target=draft.target,
                transforms=parse_steps(draft.steps),
                provider=draft.provider,
                required=draft.required,
            )
        except (ValidationError, ValueError) as exc:
            preview.rules.append(None)
            preview.line_problems[index] = _message(exc)
            continue
        preview.rules.append(rule)
    usable = [(i, rule) for i, rule in enumerate(preview.rules) if rule is not None]
    targets: dict[str, int] = {}
    for index, rule in usable:
        if rule.target in targets and rule.target != IDENTIFIER_TARGET:
            preview.line_problems[index] = f"{drafts[targets[rule.target]].column} already goes to {rule.target}"
            preview.rules[index] = None
        targets.setdefault(rule.target, index)
    usable = [(i, rule) for i, rule in enumerate(preview.rules) if rule is not None]
    preview.rule_problems = dict(preview.line_problems)
    if not any(rule.target == IDENTIFIER_TARGET for _, rule in usable):
        preview.mapping_problem = (
            "no column goes to identifiers.id: every guest needs an identifier to be found again; choose the "
            "customer id column's target"
        )
    try:
        mapping = SourceMapping(
            [rule for _, rule in usable], source, schema, provider=provider, api=api, require_identifier=False
        )
    except (MappingError, SourceError) as exc:
        preview.mapping_problem = str(exc)
        return preview
    preview.mapping = mapping
    labels = {rule.label: index for index, rule in usable}
    for row in rows:
        mapped = mapping.map_row(row)
        preview.rows.append(mapped)
        # A line not sent (no target, or one CDP refuses) still shows its column's value, to choose a target by.
        values = as_dict(source, row)
        cells = [Cell(" ".join(str(values.get(c) or "") for c in d.column.split(" + ")) if d.column else None)
                 for d in drafts]  # fmt: skip
        for (index, _rule), (before, after, error) in zip(usable, mapping.trace(row), strict=True):
            cells[index] = Cell(before, after, error)
        preview.cells.append(cells)
        for finding in mapped.findings:
            line = labels.get(finding.column)
            if line is not None and line not in preview.line_problems:
                preview.line_problems[line] = f"{finding.reason} (row {finding.row}: {finding.value!r})"
    return preview


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)
