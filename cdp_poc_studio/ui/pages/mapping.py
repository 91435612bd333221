"""Map fields: which source field goes to which CDP field, checked against CDP's rules, with the exact payload of a
chosen sample record for the Batch API or the REST requests in order. The source is the generated data, or a
sample of the customer's own data imported from CSV or JSON."""

from __future__ import annotations

from typing import Any, Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
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

from cdp_poc_studio.domain.lint import lint_record
from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.domain.schema_file import SchemaFileError
from cdp_poc_studio.roundtrip.mapping import apply_mapping
from cdp_poc_studio.roundtrip.payloads import render_batch, render_rest, rest_requests
from cdp_poc_studio.roundtrip.preview import PreviewResult, generate_preview
from cdp_poc_studio.roundtrip.scenario import WIRE_PATH, MappingRule, Scenario
from cdp_poc_studio.roundtrip.source_mapping import (
    ImportedSample,
    SampleError,
    build_guest_record,
    guest_sources,
    read_sample,
    target_choices,
    validate_targets,
)
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.dialogs import SAMPLE_FILTER
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.workers.tasks import Report

SAMPLE_GUESTS = 10
FIXED = ("guestType", "identifiers")
COLUMNS = ("Source", "Sample value", "CDP target", "Check")


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"


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
        self._imported: ImportedSample | None = None
        self._rules: dict[str, str] = {}
        self._rows: list[tuple[str, bool]] = []  # (source, editable)
        self._problems: dict[str, str] = {}
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
        top = QHBoxLayout()
        top.addWidget(QLabel("Source:"))
        top.addWidget(self.source_combo, 1)
        top.addWidget(self.import_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("mappingTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(1, 170)
        self.table.setColumnWidth(2, 190)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

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
        self.api_batch.toggled.connect(self._refresh_payload)
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
        payload_layout.addWidget(self.lint_label)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(payload_box)
        split.setSizes([700, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.source_note)
        layout.addWidget(split, 1)

    # -- scenario <-> widgets ----------------------------------------------------------------------------------

    @property
    def source(self) -> str:
        return str(self.source_combo.currentData())

    def load(self, scenario: Scenario) -> None:
        self._rules = {rule.source: rule.target for rule in scenario.mapping if rule.source is not None}
        with self.loading():
            (self.api_batch if scenario.integration.load == "batch" else self.api_rest).setChecked(True)
        self._fill_table()

    def store(self, scenario: Scenario) -> Scenario:
        if self.source == "generated" and self._rows:
            self._rules = self._generated_rules()
        rules = [MappingRule(source=s, target=t) for s, t in self._rules.items()]
        return scenario.model_copy(update={"mapping": rules})

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
        if self._problems:
            source, problem = next(iter(self._problems.items()))
            more = f" (and {len(self._problems) - 1} more)" if len(self._problems) > 1 else ""
            return f"{source}: {problem}{more}"
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
        """Read a CSV or JSON file of the customer's records (in a job) and map it instead of generated data."""
        self._busy = True
        self.source_note.setText(f"Reading {path}…")

        def body(_report: Report, _cancel: CancelToken) -> ImportedSample:
            return read_sample(path)

        def done(sample: ImportedSample) -> None:
            self._busy = False
            self._imported = sample
            label = f"Imported sample: {sample.path.name} ({len(sample.rows)} records)"
            index = self.source_combo.findData("imported")
            if index < 0:
                self.source_combo.addItem(label, "imported")
                index = self.source_combo.count() - 1
            else:
                self.source_combo.setItemText(index, label)
            self.source_combo.setCurrentIndex(index)
            self._fill_table()
            self.sample_ready.emit()

        def failed(exc: BaseException) -> None:
            self._busy = False
            text = str(exc) if isinstance(exc, SampleError) else f"{path} could not be imported: {exc}"
            self.source_note.setText(text)
            self.context.dialogs.error(self, "Cannot import the sample", text)
            self.sample_ready.emit()

        self.context.runner.submit(body, name="import-sample", on_success=done, on_failure=failed)

    def _on_import_clicked(self) -> None:
        folder = self.context.settings.last_folder
        path = self.context.dialogs.open_file(self, "Import a sample of customer data", folder, SAMPLE_FILTER)
        if path is not None:
            self.import_sample(path)

    def _on_source_changed(self) -> None:
        if self._loading:
            return
        if self.source == "generated" and self._generated is None:
            self.load_generated_sample()
        self._fill_table()

    # -- the table ---------------------------------------------------------------------------------------------

    def _sample_sources(self) -> tuple[list[str], list[dict[str, Any]]]:
        """Source paths in a stable order, and per sample record its values by source."""
        if self.source == "imported" and self._imported is not None:
            return list(self._imported.columns), list(self._imported.rows)
        if self._generated is None:
            return [], []
        records = [guest_sources(g.guest) for g in self._generated.guests]
        order: list[str] = []
        for record in records:
            order.extend(k for k in record if k not in order)
        return order, records

    def _fill_table(self) -> None:
        sources, records = self._sample_sources()
        self._loading = True
        try:
            self.table.setRowCount(0)
            self._rows = []
            self.table.setRowCount(len(sources))
            first = records[0] if records else {}
            extra = [s for s in sources if "." in s] + [t for t in self._rules.values() if "." in t]
            choices = target_choices(extra)
            for row, source in enumerate(sources):
                if self.source == "imported" and self._imported is not None:
                    editable, target = True, self._imported.targets.get(source, "")
                else:
                    editable = bool(WIRE_PATH.match(source)) and source not in FIXED
                    target = self._rules.get(source, source)
                self._rows.append((source, editable))
                self.table.setItem(row, 0, QTableWidgetItem(source))
                value = next((r[source] for r in records if source in r), first.get(source, ""))
                self.table.setItem(row, 1, QTableWidgetItem(_short(value)))
                if editable:
                    combo = QComboBox()
                    combo.setEditable(True)
                    combo.addItems(choices if target in choices else [target, *choices])
                    combo.setCurrentText(target)
                    combo.currentTextChanged.connect(self._on_target_changed)
                    self.table.setCellWidget(row, 2, combo)
                else:
                    item = QTableWidgetItem(f"{target} (as generated)")
                    item.setToolTip("Sent where the generator puts it")
                    self.table.setItem(row, 2, item)
                self.table.setItem(row, 3, QTableWidgetItem(""))
            self.record_spin.setRange(0, max(0, len(records) - 1))
        finally:
            self._loading = False
        if self.source == "imported" and self._imported is not None:
            self.source_note.setText(
                f"{len(self._imported.rows)} records from {self._imported.path}"
                + (" (the first 1,000 only)" if self._imported.truncated else "")
                + ". Targets were suggested from the column names; change any of them. The imported sample and "
                "its mapping are kept for this session only (scenario files hold mapping rules for generated "
                "fields)."
            )
        elif self._generated_error:
            self.source_note.setText(f"No sample: {self._generated_error}")
        else:
            self.source_note.setText(
                "Each generated field goes where the design puts it, unless you choose another target. "
                "Guest attributes and extension keys can be remapped; order fields are sent as generated."
            )
        self._validate()

    def target_of(self, row: int) -> str:
        widget = self.table.cellWidget(row, 2)
        if isinstance(widget, QComboBox):
            return widget.currentText().strip()
        return self._rows[row][0]

    def target_combo(self, source: str) -> QComboBox | None:
        for row, (name, _editable) in enumerate(self._rows):
            if name == source:
                widget = self.table.cellWidget(row, 2)
                return widget if isinstance(widget, QComboBox) else None
        return None

    def _on_target_changed(self, _text: str) -> None:
        if self._loading:
            return
        if self.source == "imported" and self._imported is not None:
            self._imported.targets = {s: self.target_of(r) for r, (s, _e) in enumerate(self._rows)}
        else:
            self._rules = self._generated_rules()
        self._validate()
        self._on_widget_edited()

    def _validate(self) -> None:
        _sources, records = self._sample_sources()
        targets = {s: self.target_of(r) for r, (s, editable) in enumerate(self._rows) if editable}
        values = records[0] if records else None
        self._problems = validate_targets(targets, values)
        for row, (source, _editable) in enumerate(self._rows):
            problem = self._problems.get(source)
            item = self.table.item(row, 3)
            if item is None:
                continue
            item.setText(f"✖ {problem}" if problem else "✔")
            item.setToolTip(problem or "follows CDP's rules")
            item.setForeground(Qt.GlobalColor.red if problem else Qt.GlobalColor.darkGreen)
        self._refresh_payload()
        self.status_changed.emit()

    # -- the payload -------------------------------------------------------------------------------------------

    def sample_records(self, index: int) -> list[dict[str, Any]]:
        """The batch records of sample `index` after mapping: the guest, then its orders."""
        if self.source == "imported" and self._imported is not None:
            if not self._imported.rows:
                return []
            row = self._imported.rows[min(index, len(self._imported.rows) - 1)]
            provider = self.context.document.scenario.generator.identifier_provider
            return [build_guest_record(row, self._imported.targets, provider, index)]
        if self._generated is None or not self._generated.guests:
            return []
        guest = self._generated.guests[min(index, len(self._generated.guests) - 1)]
        rules = [MappingRule(source=s, target=t) for s, t in self._rules.items() if s not in self._problems]
        try:
            value = apply_mapping(guest.guest, rules)
        except ValueError:
            value = guest.guest
        return [{**guest.record, "value": value}, *(o.record for o in guest.orders)]

    def _on_record_changed(self, _value: int) -> None:
        self._refresh_payload()

    def _refresh_payload(self, *_args: object) -> None:
        records = self.sample_records(self.record_spin.value())
        if not records:
            self.payload.setPlainText("")
            self.lint_label.setText("")
            return
        api: Literal["batch", "rest"] = "batch" if self.api_batch.isChecked() else "rest"
        if api == "batch":
            self.payload.setPlainText(render_batch(records))
        else:
            guest = records[0]["value"]
            orders = [r["value"] for r in records[1:]]
            self.payload.setPlainText(render_rest(rest_requests(guest, orders)))
        violations = [v for record in records for v in lint_record(record, api)]
        if violations:
            listed = "; ".join(str(v) for v in violations[:5])
            self.lint_label.setText(f"CDP's linter on this record ({api}): {len(violations)} problem(s): {listed}")
            self.lint_label.setStyleSheet("color: #c0392b;")
        else:
            self.lint_label.setText(f"CDP's linter on this record ({api}): no problems.")
            self.lint_label.setStyleSheet("")
