"""Map fields: which source field goes to which CDP field, checked against CDP's rules, with the exact payload of a
chosen sample record for the Batch API or the REST requests in order. The source is the generated data, or a
sample of the customer's own data (CSV or JSON) whose columns are mapped with transforms and saved in the scenario.

One check decides everything the page shows: a row is ticked only when its target is valid and no sample record
has a problem in it, the checker below lists the same problems, and the payload is the exact record checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.domain.lint import Violation, lint_record
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_file import SchemaFileError
from cdp_poc_studio.roundtrip.mapping import apply_mapping
from cdp_poc_studio.roundtrip.payloads import render_batch, render_rest, rest_requests
from cdp_poc_studio.roundtrip.preview import PreviewResult, generate_preview
from cdp_poc_studio.roundtrip.scenario import WIRE_PATH, MappingRule, Scenario
from cdp_poc_studio.roundtrip.source.preview import RowDraft, SamplePreview, check_drafts, suggest_drafts
from cdp_poc_studio.roundtrip.source.reader import SourceError, SourceFile, SourceRow, open_source, read_head
from cdp_poc_studio.roundtrip.source.spec import SourceSpec
from cdp_poc_studio.roundtrip.source.steps_text import SYNTAX
from cdp_poc_studio.roundtrip.source_mapping import SKIP, guest_sources, target_choices, validate_targets
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.dialogs import SAMPLE_FILTER
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.widgets.source_rows import SourceRowsView
from cdp_poc_studio.ui.widgets.wrap_delegate import WrapAnywhereDelegate
from cdp_poc_studio.workers.tasks import Report

SAMPLE_GUESTS = 10
PREVIEW_ROWS = 200
FIXED = ("guestType", "identifiers")
COLUMNS = ("Source", "Before", "Transforms", "After", "CDP target", "Check")
SOURCE_COL, BEFORE_COL, STEPS_COL, AFTER_COL, TARGET_COL, CHECK_COL = range(len(COLUMNS))
# Column widths in px: values and transforms have a set width (values wrap), the check reads at least this wide.
WIDTHS = {BEFORE_COL: 110, STEPS_COL: 150, AFTER_COL: 110}
CHECK_MIN, SOURCE_MIN = 180, 120
CHECK_WIDE, WIDE_MAX = 440, 260  # with room to spare: the check's reasons this wide, then values and transforms
CELL_ROOM, COMBO_ROOM = 14, 34  # beside the text: a cell's margins; a combo box's frame and arrow


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


class _Sample:
    """An opened sample: the file as the scenario names it, the opened file, and its first records."""

    def __init__(self, spec: SourceSpec, source: SourceFile, rows: list[SourceRow]) -> None:
        self.spec, self.source, self.rows = spec, source, rows


class MappingPage(Page):
    """Signals:
    sample_ready(): the generated sample or the imported file is loaded and the table shows it.
    """

    title = "Map fields"
    subtitle = "Which field goes where in CDP, checked before anything is sent, and the exact payload."
    sample_ready = Signal()

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._generated: PreviewResult | None = None
        self._generated_error: str | None = None
        self._sample: _Sample | None = None
        self._sample_error: str | None = None
        self._drafts: list[RowDraft] = []
        self._preview: SamplePreview | None = None
        self._rules: dict[str, str] = {}
        self._rows: list[tuple[str, bool]] = []  # (source, editable)
        self._problems: dict[str, str] = {}  # by source (generated) or column (sample): what the rows show
        self._checker: list[str] = []  # every problem, in the words the checker shows
        self._mapping_problems: list[str] = []  # those of the mapping itself, shown whatever the record
        self._record_problems: list[list[str]] = []  # per sample record
        self._busy = False

        self.source_combo = QComboBox()
        self.source_combo.setObjectName("sourceCombo")
        self.source_combo.addItem("Generated data (from the Design data step)", "generated")
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.import_button = QPushButton("Import a sample of the customer's data (CSV or JSON)…")
        self.import_button.setObjectName("importSample")
        self.import_button.clicked.connect(self._on_import_clicked)
        self.source_note = QLabel()
        self.source_note.setWordWrap(True)
        self.lookalike_button = QPushButton("Propose look-alike data…")
        self.lookalike_button.setObjectName("proposeLookalike")
        self.lookalike_button.setToolTip(
            "From the sample: an extension schema and generator settings for more guests of the same shape, "
            "editable in Design data; runs send the sample, then that many synthetic guests"
        )
        self.lookalike_button.clicked.connect(self._on_lookalike_clicked)
        self.lookalike_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(QLabel("Source:"))
        top.addWidget(self.source_combo, 1)
        top.addWidget(self.import_button)
        top.addWidget(self.lookalike_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("mappingTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # Nothing in a row is cut: long keys, values and the check's reason wrap, and each row is as tall as its
        # text (the widths are set by _fit_columns as the table is filled and resized).
        self.table.setWordWrap(True)
        self._wrap = WrapAnywhereDelegate(self.table)
        for column in (SOURCE_COL, BEFORE_COL, AFTER_COL, CHECK_COL):
            self.table.setItemDelegateForColumn(column, self._wrap)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.viewport().installEventFilter(self)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        steps_header = self.table.horizontalHeaderItem(STEPS_COL)
        if steps_header is not None:
            steps_header.setToolTip(SYNTAX)

        self.record_spin = QSpinBox()
        self.record_spin.setObjectName("recordSpin")
        self.record_spin.setPrefix("record ")
        self.record_spin.valueChanged.connect(self._on_record_changed)
        self.api_batch = QRadioButton("Batch line")
        self.api_rest = QRadioButton("REST requests in order")
        api_group = QButtonGroup(self)
        api_group.addButton(self.api_batch)
        api_group.addButton(self.api_rest)
        self.api_batch.setChecked(True)
        self.api_batch.toggled.connect(self._on_api_toggled)
        self.payload = QPlainTextEdit()
        self.payload.setObjectName("payload")
        self.payload.setReadOnly(True)
        self.payload.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.payload.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.lint_label = QLabel()
        self.lint_label.setObjectName("mappingLint")
        self.lint_label.setWordWrap(True)
        payload_controls = QHBoxLayout()
        payload_controls.addWidget(QLabel("Show"))
        payload_controls.addWidget(self.record_spin)
        payload_controls.addWidget(self.api_batch)
        payload_controls.addWidget(self.api_rest)
        payload_controls.addStretch(1)
        payload_box = QGroupBox("Exactly what would be sent")
        payload_layout = QVBoxLayout(payload_box)
        payload_layout.addLayout(payload_controls)
        payload_layout.addWidget(self.payload, 1)

        # A sample's records as the check found them: mapped, or each finding with its row, column and value.
        self.source_rows = SourceRowsView()
        self.source_rows.hide()
        below = QSplitter(Qt.Orientation.Horizontal)
        below.addWidget(self.source_rows)
        below.addWidget(payload_box)
        # The records' reasons wrap in their table; the payload wraps in its box, and scrolls.
        below.setStretchFactor(0, 3)
        below.setStretchFactor(1, 2)
        below.setSizes([600, 400])
        # The table takes the page's whole width (six columns, nothing cut at 1280 wide); the records checked
        # and the exact payload sit below it, side by side.
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(below)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([420, 280])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.source_note)
        layout.addWidget(split, 1)
        # The checker, under everything and the page's full width: a layout (unlike a splitter) gives a wrapped
        # label all the lines it needs, so a long list of problems is never cut.
        layout.addWidget(self.lint_label)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return super().eventFilter(watched, event)

    # -- scenario <-> widgets ----------------------------------------------------------------------------------

    @property
    def source(self) -> str:
        return str(self.source_combo.currentData())

    @property
    def api(self) -> Literal["batch", "rest"]:
        return "batch" if self.api_batch.isChecked() else "rest"

    def load(self, scenario: Scenario) -> None:
        self._rules = {rule.source: rule.target for rule in scenario.mapping if rule.source is not None}
        with self.loading():
            (self.api_batch if scenario.integration.load == "batch" else self.api_rest).setChecked(True)
        self._sample_error = None
        if scenario.source is None:
            if self._sample is not None:
                self._forget_sample()
            self._fill_table()
            return
        drafts = [RowDraft.of(rule) for rule in scenario.mapping]
        if self._sample is not None and self._sample.spec == scenario.source:
            self._set_drafts(drafts)
            return
        self._open_sample(scenario.source, drafts)

    def store(self, scenario: Scenario) -> Scenario:
        if self._sample_error is not None and self._sample is None and scenario.source is not None:
            return scenario  # the sample cannot be read: its [source] and rules stay exactly as they were
        if self.source == "imported" and self._sample is not None:
            preview = self._preview
            rules = preview.rules_to_save() if preview is not None else []
            spec = self._sample.spec
            current = scenario.source
            if current is not None and self._absolute(current).resolve() == self._absolute(spec).resolve():
                # The same file, perhaps named relative to where the scenario was saved since: keep that name.
                spec = spec.model_copy(update={"file": current.file})
                self._sample.spec = spec
            return scenario.model_copy(update={"source": spec, "mapping": rules})
        if self.source == "generated" and self._rows:
            self._rules = self._generated_rules()
        rules = [MappingRule(source=s, target=t) for s, t in self._rules.items()]
        return scenario.model_copy(update={"mapping": rules, "source": None})

    def _generated_rules(self) -> dict[str, str]:
        rules = {}
        for row, (source, editable) in enumerate(self._rows):
            target = self.target_of(row)
            if editable and target and target != source:
                rules[source] = target
        return rules

    def validation_error(self) -> str | None:
        if self.source == "generated" and self._generated_error:
            return f"no sample to map: {self._generated_error}"
        if self._sample_error:
            return self._sample_error
        if self._checker:
            more = f" (and {len(self._checker) - 1} more)" if len(self._checker) > 1 else ""
            return f"{self._checker[0]}{more}"
        return None

    def is_busy(self) -> bool:
        return self._busy

    def shown(self) -> None:
        if self.source == "generated":
            self.load_generated_sample()

    # -- sources -----------------------------------------------------------------------------------------------

    def load_generated_sample(self) -> None:
        document = self.context.document
        try:
            schema = document.schema()
        except SchemaFileError as exc:
            self._generated, self._generated_error = None, str(exc)
            self._fill_table()
            return
        settings = document.scenario.generator
        api = document.scenario.integration.load
        self._busy = True

        def body(report: Report, cancel: CancelToken) -> PreviewResult:
            return generate_preview(settings, schema, SAMPLE_GUESTS, api, report, cancel)

        def done(result: PreviewResult) -> None:
            self._busy = False
            values = [f for f in result.findings if f.source == "values"]
            self._generated = result
            self._generated_error = f"fix the Design data step first ({values[0]})" if values else None
            self._fill_table()
            self.sample_ready.emit()

        def failed(exc: BaseException) -> None:
            self._busy = False
            self._generated, self._generated_error = None, f"the sample could not be generated: {exc}"
            self._fill_table()
            self.sample_ready.emit()

        self.context.runner.submit(body, name="mapping-sample", on_success=done, on_failure=failed)

    def import_sample(self, path: Any) -> None:
        """Read a CSV or JSON file of the customer's records (in a job), suggest a mapping, and map it."""
        self._open_sample(SourceSpec(file=self._scenario_path(Path(path))), None)

    def _scenario_path(self, path: Path) -> str:
        """The file as the scenario names it: relative to a saved scenario's folder, else absolute."""
        base = self.context.document.base_dir
        absolute = path.resolve()
        if base is None:
            return absolute.as_posix()
        return Path(os.path.relpath(absolute, base)).as_posix()

    def _absolute(self, spec: SourceSpec) -> Path:
        path = Path(spec.file)
        base = self.context.document.base_dir
        return path if path.is_absolute() or base is None else base / path

    def _open_sample(self, spec: SourceSpec, drafts: list[RowDraft] | None) -> None:
        """Open the sample in a job; `drafts` None: suggest them from the columns and values."""
        path = self._absolute(spec)
        self._busy = True
        self.source_note.setText(f"Reading {path}…")

        def body(_report: Report, _cancel: CancelToken) -> tuple[_Sample, list[RowDraft]]:
            source = open_source(path, format=spec.format, encoding=spec.encoding, delimiter=spec.delimiter)
            rows = read_head(source, PREVIEW_ROWS)
            return _Sample(spec, source, rows), drafts if drafts is not None else suggest_drafts(source, rows)

        def done(result: tuple[_Sample, list[RowDraft]]) -> None:
            self._busy = False
            sample, found = result
            self._sample, self._sample_error = sample, None
            self._show_sample_in_combo()
            self._set_drafts(found)
            if drafts is None:
                self._on_widget_edited()
            self.sample_ready.emit()

        def failed(exc: BaseException) -> None:
            self._busy = False
            text = str(exc) if isinstance(exc, SourceError) else f"{path} could not be imported: {exc}"
            self.source_note.setText(text)
            if drafts is None:
                self.context.dialogs.error(self, "Cannot import the sample", text)
            else:
                # The scenario names a sample that cannot be read: say so, and keep its rules as they are.
                if self._sample is not None:
                    self._forget_sample()
                self._sample_error = f"the scenario's sample cannot be read: {text}"
                self._fill_table()
            self.sample_ready.emit()
            self.status_changed.emit()

        self.context.runner.submit(body, name="import-sample", on_success=done, on_failure=failed)

    def _show_sample_in_combo(self) -> None:
        assert self._sample is not None
        label = f"Sample: {self._sample.source.path.name}"
        with self.loading():
            index = self.source_combo.findData("imported")
            if index < 0:
                self.source_combo.addItem(label, "imported")
                index = self.source_combo.count() - 1
            else:
                self.source_combo.setItemText(index, label)
            self.source_combo.setCurrentIndex(index)

    def _forget_sample(self) -> None:
        self._sample, self._preview, self._drafts = None, None, []
        with self.loading():
            index = self.source_combo.findData("imported")
            if index >= 0:
                self.source_combo.removeItem(index)
            self.source_combo.setCurrentIndex(0)

    def _on_import_clicked(self) -> None:
        folder = self.context.settings.last_folder
        path = self.context.dialogs.open_file(self, "Import a sample of customer data", folder, SAMPLE_FILTER)
        if path is not None:
            self.import_sample(path)

    def propose_lookalike(self, rows: int) -> str | None:
        """Replace the scenario's schema with one proposed from the sample, and add `rows` synthetic guests.

        Returns why not, or None. The proposal is the document's inline schema: the Design data step edits it.
        """
        from cdp_poc_studio.roundtrip.source.lookalike import propose
        from cdp_poc_studio.roundtrip.source.mapper import SAMPLE_ERRORS
        from cdp_poc_studio.roundtrip.source.rows import open_mapping, resolve_source

        if self._sample is None or self._preview is None:
            return "import a sample first"
        if self.validation_error():
            return f"fix the mapping first: {self.validation_error()}"
        document = self.context.document
        scenario = self.store(document.scenario)
        try:
            running = resolve_source(scenario, document.base_dir)
            proposed = propose(running, self._schema(), open_mapping(running, self._schema()), rows)
        except SAMPLE_ERRORS as exc:
            return str(exc)
        assert scenario.source is not None
        source = scenario.source.model_copy(update={"synthetic_rows": rows})
        self._sample.spec = source
        document.replace(proposed.model_copy(update={"source": source}))
        self.edited.emit()
        self.status_changed.emit()
        return None

    def _on_lookalike_clicked(self) -> None:
        answer = self.context.dialogs.ask_text(
            self, "Look-alike data", "How many synthetic guests, after the sample's rows?", "1000"
        )
        if answer is None:
            return
        try:
            rows = int(answer.replace(",", "").strip())
        except ValueError:
            rows = -1
        if rows < 0:
            self.context.dialogs.error(self, "Look-alike data", f"{answer!r} is not a number of guests (0 or more)")
            return
        problem = self.propose_lookalike(rows)
        if problem:
            self.context.dialogs.error(self, "Look-alike data", problem)
        else:
            self.source_note.setText(
                f"Proposed: {rows:,} synthetic guests after the sample, from a schema drawn from its columns. "
                "Review and edit it in Design data (value sets keep sample values; drop those you must not copy)."
            )

    def _on_source_changed(self) -> None:
        if self._loading:
            return
        if self.source == "generated" and self._generated is None:
            self.load_generated_sample()
        self._fill_table()
        self._on_widget_edited()

    # -- the table ---------------------------------------------------------------------------------------------

    def _set_drafts(self, drafts: list[RowDraft]) -> None:
        assert self._sample is not None
        mapped = {draft.column for draft in drafts}
        # The columns no rule reads are listed too, not sent, so that the user can map them.
        self._drafts = drafts + [RowDraft(c, SKIP) for c in self._sample.source.columns if c not in mapped]
        self._fill_table()

    def _fill_table(self) -> None:
        if self.source == "imported" and self._sample is not None:
            self._fill_sample_table()
        else:
            self._fill_generated_table()
        self._check()
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Source and target as wide as their longest text, the check the rest. When the table is too narrow for
        all of it, the source column wraps (a key reads on two lines; a target's box cannot wrap); when it is wide,
        values and transforms widen to their longest text too, leaving the check room for its reason."""
        metrics = self.table.fontMetrics()

        def need(column: int) -> int:
            widths = [metrics.horizontalAdvance(COLUMNS[column]) + CELL_ROOM]
            for row in range(self.table.rowCount()):
                item, cell = self.table.item(row, column), self.table.cellWidget(row, column)
                combo, edit = self._combo_at(row, column), self.steps_of(row) if column == STEPS_COL else None
                if combo is not None:
                    widths.append(metrics.horizontalAdvance(combo.currentText()) + COMBO_ROOM)
                elif edit is not None:
                    widths.append(metrics.horizontalAdvance(edit.text()) + CELL_ROOM)
                elif item is not None and cell is None:
                    widths.append(metrics.horizontalAdvance(item.text()) + CELL_ROOM)
            return max(widths)

        # Generated data has no transforms: their column is hidden, and its room goes to the others.
        self.table.setColumnHidden(STEPS_COL, not (self.source == "imported" and self._sample is not None))
        widths = {c: w for c, w in WIDTHS.items() if not self.table.isColumnHidden(c)}
        viewport = self.table.viewport().width()
        room = viewport - sum(widths.values()) - CHECK_MIN
        target = min(need(TARGET_COL), max(room - SOURCE_MIN, 150))
        source = max(min(need(SOURCE_COL), room - target), SOURCE_MIN)
        check = max(CHECK_MIN, min(need(CHECK_COL), CHECK_WIDE))
        spare = viewport - sum(widths.values()) - target - source - check
        for column, width in widths.items():
            grow = max(0, min(min(need(column), WIDE_MAX) - width, spare // len(widths)))
            self.table.setColumnWidth(column, width + grow)
        self.table.setColumnWidth(TARGET_COL, target)
        self.table.setColumnWidth(SOURCE_COL, source)
        self.table.resizeRowsToContents()

    def _fill_generated_table(self) -> None:
        sources, records = self._generated_sources()
        with self.loading():
            self.table.setRowCount(0)
            self._rows = []
            self.table.setRowCount(len(sources))
            first = records[0] if records else {}
            extra = [s for s in sources if "." in s] + [t for t in self._rules.values() if "." in t]
            choices = target_choices(extra)
            for row, source in enumerate(sources):
                editable = bool(WIRE_PATH.match(source)) and source not in FIXED
                target = self._rules.get(source, source)
                self._rows.append((source, editable))
                self.table.setItem(row, SOURCE_COL, QTableWidgetItem(source))
                value = next((r[source] for r in records if source in r), first.get(source, ""))
                self.table.setItem(row, BEFORE_COL, QTableWidgetItem(_short(value)))
                self.table.setItem(row, STEPS_COL, QTableWidgetItem(""))
                self.table.setItem(row, AFTER_COL, QTableWidgetItem(_short(value)))
                if editable:
                    self.table.setCellWidget(row, TARGET_COL, _at_top(self._target_combo(target, choices)))
                else:
                    item = QTableWidgetItem(f"{target} (as generated)")
                    item.setToolTip("Sent where the generator puts it")
                    self.table.setItem(row, TARGET_COL, item)
                self.table.setItem(row, CHECK_COL, QTableWidgetItem(""))
            self.record_spin.setRange(0, max(0, len(records) - 1))
        if self._generated_error:
            self.source_note.setText(f"No sample: {self._generated_error}")
        else:
            self.source_note.setText(
                "Each generated field goes where the design puts it, unless you choose another target. "
                "Guest attributes and extension keys can be remapped; order fields are sent as generated."
            )

    def _fill_sample_table(self) -> None:
        assert self._sample is not None
        sample = self._sample
        with self.loading():
            self.table.setRowCount(0)
            self._rows = [(draft.column, True) for draft in self._drafts]
            self.table.setRowCount(len(self._drafts))
            choices = target_choices(d.target for d in self._drafts if "." in d.target)
            for row, draft in enumerate(self._drafts):
                self.table.setItem(row, SOURCE_COL, QTableWidgetItem(draft.column or "(constant)"))
                self.table.setItem(row, BEFORE_COL, QTableWidgetItem(""))
                steps = QLineEdit(draft.steps)
                steps.setPlaceholderText("no transform")
                steps.setToolTip(SYNTAX)
                steps.setCursorPosition(0)  # the start of a long transform, not its end
                steps.textChanged.connect(self._on_steps_changed)
                self.table.setCellWidget(row, STEPS_COL, _at_top(steps))
                self.table.setItem(row, AFTER_COL, QTableWidgetItem(""))
                self.table.setCellWidget(row, TARGET_COL, _at_top(self._target_combo(draft.target, choices)))
                self.table.setItem(row, CHECK_COL, QTableWidgetItem(""))
            self.record_spin.setRange(0, max(0, len(sample.rows) - 1))
        notes = " ".join(sample.source.notes)
        self.source_note.setText(
            f"{sample.source.path} ({sample.source.format.upper()}, {sample.source.encoding}"
            + (f", delimiter {sample.source.delimiter!r}" if sample.source.delimiter else "")
            + f"): the first {len(sample.rows)} records checked. Edit each column's transforms and target; Before "
            "and After show the chosen record. Saved in the scenario as [source] and [[mapping]] rules, and sent "
            "instead of generated data. " + notes
        )

    def _target_combo(self, target: str, choices: list[str]) -> QComboBox:
        combo = QComboBox()
        combo.setEditable(True)
        combo.addItems(choices if target in choices else [target, *choices])
        combo.setCurrentText(target)
        combo.currentTextChanged.connect(self._on_target_changed)
        return combo

    def _generated_sources(self) -> tuple[list[str], list[dict[str, Any]]]:
        """Source paths in a stable order, and per sample record its values by source."""
        if self._generated is None:
            return [], []
        records = [guest_sources(g.guest) for g in self._generated.guests]
        order: list[str] = []
        for record in records:
            order.extend(k for k in record if k not in order)
        return order, records

    def _combo_at(self, row: int, column: int) -> QComboBox | None:
        cell = self.table.cellWidget(row, column)
        return cell.findChild(QComboBox) if cell is not None else None

    def target_of(self, row: int) -> str:
        combo = self._combo_at(row, TARGET_COL)
        if combo is not None:
            return combo.currentText().strip()
        return self._rows[row][0]

    def steps_of(self, row: int) -> QLineEdit | None:
        cell = self.table.cellWidget(row, STEPS_COL)
        return cell.findChild(QLineEdit) if cell is not None else None

    def row_of(self, source: str) -> int:
        return [name for name, _editable in self._rows].index(source)

    def target_combo(self, source: str) -> QComboBox | None:
        for row, (name, _editable) in enumerate(self._rows):
            if name == source:
                return self._combo_at(row, TARGET_COL)
        return None

    def _on_target_changed(self, _text: str) -> None:
        self._on_row_edited()
        self._fit_columns()  # the new target may need a wider column

    def _on_steps_changed(self, _text: str) -> None:
        self._on_row_edited()

    def _on_row_edited(self) -> None:
        if self._loading:
            return
        if self.source == "imported" and self._sample is not None:
            self._drafts = [
                RowDraft(draft.column, self.target_of(row), self._steps_text(row), draft.provider, draft.required)
                for row, draft in enumerate(self._drafts)
            ]
        else:
            self._rules = self._generated_rules()
        self._check()
        self._on_widget_edited()

    def _steps_text(self, row: int) -> str:
        edit = self.steps_of(row)
        return edit.text() if edit is not None else ""

    # -- the one check -----------------------------------------------------------------------------------------

    def _schema(self) -> ExtensionSchema:
        try:
            return self.context.document.schema()
        except SchemaFileError:
            return ExtensionSchema()

    def _check(self) -> None:
        """Check every sample record as it would be sent; rows, checker and payload all show this result."""
        if self.source == "imported" and self._sample is not None:
            self._check_sample()
        else:
            self._check_generated()
        for row, (source, _editable) in enumerate(self._rows):
            item = self.table.item(row, CHECK_COL)
            if item is None:
                continue
            problem = self._problems.get(source)
            skipped = self.source == "imported" and self.target_of(row) in ("", SKIP)
            item.setText(f"✖ {problem}" if problem else ("" if skipped else "✔"))
            item.setToolTip(problem or ("not sent" if skipped else "every sample record passes CDP's rules here"))
            item.setForeground(Qt.GlobalColor.red if problem else Qt.GlobalColor.darkGreen)
        self.table.resizeRowsToContents()  # a reason that came or went changes the row's height
        self._refresh_payload()
        self.status_changed.emit()

    def _check_generated(self) -> None:
        self.source_rows.hide()
        self.lookalike_button.setEnabled(False)
        _sources, records = self._generated_sources()
        targets = {s: self.target_of(r) for r, (s, editable) in enumerate(self._rows) if editable}
        problems = validate_targets(targets, records[0] if records else None)
        checker = [f"{source}: {problem}" for source, problem in problems.items()]
        self._mapping_problems = list(checker)
        by_target = {target: source for source, target in targets.items()}
        self._record_problems = []
        for index in range(len(records)):
            found = []
            envelopes = self.sample_records(index)
            for violation in (v for record in envelopes for v in lint_record(record, self.api)):
                source = _source_of(violation, envelopes[0], by_target)
                if source is not None and source not in problems:
                    problems[source] = f"{violation.message} (record {index})"
                found.append(str(violation))
            self._record_problems.append(found)
            checker.extend(f"record {index}: {text}" for text in found)
        self._problems, self._checker = problems, checker

    def _check_sample(self) -> None:
        assert self._sample is not None
        scenario = self.context.document.scenario
        preview = check_drafts(
            self._drafts, self._sample.source, self._sample.rows, self._schema(),
            provider=scenario.generator.identifier_provider, api=self.api,
        )  # fmt: skip
        self._preview = preview
        self._problems = {self._drafts[i].column: p for i, p in preview.line_problems.items()}
        self._mapping_problems = preview.mapping_problems()
        self._record_problems = [[str(f) for f in row.findings] for row in preview.rows]
        self._checker = self._mapping_problems + [text for found in self._record_problems for text in found]
        self._show_before_after()
        self.source_rows.show_lines([
            {"row": r.number, "line": r.line, "key": r.key, "findings": [f.to_json() for f in r.findings],
             "status": "mapped" if r.ok else "rejected by linter" if any(f.kind == "lint" for f in r.findings)
             else "invalid"}
            for r in preview.rows
        ])  # fmt: skip
        self.source_rows.show()
        self.lookalike_button.setEnabled(True)

    def _show_before_after(self) -> None:
        preview = self._preview
        if preview is None or not preview.cells:
            return
        cells = preview.cells[min(self.record_spin.value(), len(preview.cells) - 1)]
        for row, cell in enumerate(cells):
            before = self.table.item(row, BEFORE_COL)
            after = self.table.item(row, AFTER_COL)
            if before is None or after is None:
                continue
            before.setText(_short(cell.before))
            before.setToolTip(repr(cell.before))
            after.setText(f"✖ {cell.error}" if cell.error else _short(cell.after))
            after.setToolTip(cell.error or repr(cell.after))
            after.setForeground(Qt.GlobalColor.red if cell.error else self.palette().text().color())
        self.table.resizeRowsToContents()

    # -- the payload -------------------------------------------------------------------------------------------

    def sample_records(self, index: int) -> list[dict[str, Any]]:
        """The batch records of sample `index` exactly as they would be sent: the guest, then its orders."""
        if self.source == "imported" and self._sample is not None:
            preview = self._preview
            if preview is None or not preview.rows:
                return []
            record = preview.rows[min(index, len(preview.rows) - 1)].record
            return [record] if record is not None else []
        if self._generated is None or not self._generated.guests:
            return []
        guest = self._generated.guests[min(index, len(self._generated.guests) - 1)]
        # Rules with an invalid target are not applied (the row says why; the checker lists it): the payload is
        # what a run could send once they are fixed, never a record carrying a key CDP refuses.
        rules = [MappingRule(source=s, target=t) for s, t in self._rules.items() if _valid_rule(s, t)]
        try:
            value = apply_mapping(guest.guest, rules)
        except ValueError:
            value = guest.guest
        return [{**guest.record, "value": value}, *(o.record for o in guest.orders)]

    def _on_record_changed(self, _value: int) -> None:
        self._show_before_after()
        self._refresh_payload()

    def _on_api_toggled(self, *_args: object) -> None:
        if not self._loading:
            self._check()

    def _refresh_payload(self, *_args: object) -> None:
        index = self.record_spin.value()
        records = self.sample_records(index)
        if not records:
            self.payload.setPlainText("")
        elif self.api == "batch":
            self.payload.setPlainText(render_batch(records))
        else:
            guest = records[0]["value"]
            orders = [r["value"] for r in records[1:]]
            self.payload.setPlainText(render_rest(rest_requests(guest, orders)))
        here = self._record_problems[index] if index < len(self._record_problems) else []
        if not self._checker:
            count = len(self._record_problems)
            self.lint_label.setText(
                f"CDP's rules ({self.api}): no problems in the {count} sample record{'s' if count != 1 else ''}."
            )
            self.lint_label.setStyleSheet("")
            return
        shown = [*self._mapping_problems, *(f"this record: {text}" for text in here)]
        others = len(self._checker) - len(shown)
        if not shown:
            shown = [f"other records: {text}" for text in self._checker[:3]]
        self.lint_label.setText(
            f"CDP's rules ({self.api}): {len(self._checker)} problem(s). "
            + "; ".join(shown[:6])
            + (f" (and {others} more in other records)" if others > 0 else "")
        )
        self.lint_label.setStyleSheet("color: #c0392b;")


def _at_top(widget: QWidget) -> QWidget:
    """A cell's editor kept at its own height at the top of a row made taller by wrapped text beside it (a widget
    set in the cell itself would be stretched, and its maximum height would cap the row's)."""
    cell = QWidget()
    layout = QVBoxLayout(cell)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    layout.addStretch(1)
    cell.setFocusProxy(widget)
    return cell


def _valid_rule(source: str, target: str) -> bool:
    return bool(WIRE_PATH.match(source)) and bool(WIRE_PATH.match(target))


def _source_of(violation: Violation, envelope: dict[str, Any], by_target: dict[str, str]) -> str | None:
    """The source row a violation in a generated guest's envelope belongs to, through the target it went to."""
    parts = violation.path.split(".")
    if len(parts) < 2 or parts[0] != "value":
        return None
    head = parts[1]
    if head.startswith("extensions[") and len(parts) > 2:
        try:
            group = envelope["value"]["extensions"][int(head[len("extensions[") : -1])]["name"]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
        return by_target.get(f"{group}.{parts[2]}")
    return by_target.get(head.split("[", 1)[0])
