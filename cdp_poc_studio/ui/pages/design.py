"""Design data: generator settings, the extension schema editor, a live preview and CDP's findings."""

from __future__ import annotations

import random
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.domain.progress import CancelToken
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_check import serialised_fields
from cdp_poc_studio.domain.schema_file import SchemaFileError
from cdp_poc_studio.generator.locales import LOCALES
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.roundtrip.preview import (
    Finding,
    GeneratorCache,
    PreviewResult,
    generate_preview,
    limit_findings,
    validation_findings,
)
from cdp_poc_studio.roundtrip.scenario import Scenario
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.qmodels.preview_table import PreviewTableModel
from cdp_poc_studio.ui.widgets.json_tree import JsonTree
from cdp_poc_studio.ui.widgets.schema_editor import SchemaEditor
from cdp_poc_studio.workers.tasks import Report

PATH_ROLE = Qt.ItemDataRole.UserRole
MAX_SEED = 2**31 - 1


def settings_problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


class DesignPage(Page):
    """Signals:
    preview_updated(): a preview finished (or failed) and the table, trees and findings show it.
    """

    title = "Design data"
    subtitle = "What to generate: counts, seed and locales, and the nested data extensions, checked against CDP."
    preview_updated = Signal()

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._active = False
        self._generation = 0
        self._preview: PreviewResult | None = None
        self._preview_findings: list[Finding] = []
        self._preview_busy = False
        self._schema_file_note = ""
        self._generators = GeneratorCache()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh_preview)

        # -- generator settings --
        settings_box = QWidget()
        form = QFormLayout(settings_box)
        self.guests_spin = QSpinBox()
        self.guests_spin.setRange(0, 10_000_000)
        self.guests_spin.setGroupSeparatorShown(True)
        self.orders_edit = QLineEdit()
        self.orders_edit.setPlaceholderText("fixed:N, uniform:LOW-HIGH or poisson:MEAN")
        self.items_edit = QLineEdit()
        self.items_edit.setPlaceholderText("fixed:N, uniform:LOW-HIGH or poisson:MEAN")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, MAX_SEED)
        self.new_seed_button = QPushButton("New seed")
        self.new_seed_button.setObjectName("newSeed")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.new_seed_button)
        self.locales_list = QListWidget()
        self.locales_list.setObjectName("locales")
        for locale, facts in LOCALES.items():
            item = QListWidgetItem(f"{locale}  ({facts.nationality}, {facts.currency})")
            item.setData(PATH_ROLE, locale)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.locales_list.addItem(item)
        self.locales_list.setMaximumHeight(150)
        self.run_tag_edit = QLineEdit()
        self.provider_edit = QLineEdit()
        self.item_type_edit = QLineEdit()
        self.point_of_sale_edit = QLineEdit()
        self.settings_error = QLabel()
        self.settings_error.setObjectName("settingsError")
        self.settings_error.setWordWrap(True)
        self.settings_error.setStyleSheet("color: #c0392b;")
        form.addRow("Guests:", self.guests_spin)
        form.addRow("Orders per guest:", self.orders_edit)
        form.addRow("Items per order:", self.items_edit)
        form.addRow("Seed:", seed_row)
        form.addRow("Locales:", self.locales_list)
        form.addRow("Run tag:", self.run_tag_edit)
        form.addRow("Identifier provider:", self.provider_edit)
        form.addRow("Order item type:", self.item_type_edit)
        form.addRow("Point of sale:", self.point_of_sale_edit)
        form.addRow(self.settings_error)
        self.guests_spin.valueChanged.connect(self._on_settings_edited)
        self.seed_spin.valueChanged.connect(self._on_settings_edited)
        for edit in (self.orders_edit, self.items_edit, self.run_tag_edit, self.provider_edit, self.item_type_edit,
                     self.point_of_sale_edit):  # fmt: skip
            edit.textEdited.connect(self._on_settings_edited)
        self.locales_list.itemChanged.connect(self._on_settings_edited)
        self.new_seed_button.clicked.connect(self._on_new_seed_clicked)

        # -- schema editor --
        self.schema_editor = SchemaEditor()
        self.schema_editor.edited.connect(self._on_schema_edited)
        self.schema_note = QLabel()
        self.schema_note.setObjectName("schemaNote")
        self.schema_note.setWordWrap(True)
        schema_tab = QWidget()
        schema_layout = QVBoxLayout(schema_tab)
        schema_layout.addWidget(self.schema_note)
        schema_layout.addWidget(self.schema_editor, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(schema_tab, "Extension schema")
        self.tabs.addTab(settings_box, "Generator settings")

        # -- findings --
        self.findings_list = QListWidget()
        self.findings_list.setObjectName("findings")
        self.findings_list.setWordWrap(True)
        self.findings_list.itemActivated.connect(self._on_finding_activated)
        self.findings_list.itemClicked.connect(self._on_finding_activated)
        findings_box = QGroupBox("CDP's rules: findings (click one to go to the field)")
        findings_layout = QVBoxLayout(findings_box)
        findings_layout.addWidget(self.findings_list)

        # -- preview --
        self.sample_spin = QSpinBox()
        self.sample_spin.setRange(20, 100)
        self.sample_spin.setSingleStep(10)
        self.sample_spin.setSuffix(" guests")
        self.sample_spin.setValue(context.settings.preview_size)
        self.sample_spin.valueChanged.connect(self._on_sample_size_changed)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_preview)
        self.preview_status = QLabel("")
        self.preview_status.setObjectName("previewStatus")
        self.preview_status.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Sample:"))
        controls.addWidget(self.sample_spin)
        controls.addWidget(self.refresh_button)
        controls.addWidget(self.preview_status, 1)
        self.table_model = PreviewTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("previewTable")
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_row_changed)
        self.nested_tree = JsonTree()
        self.nested_tree.setObjectName("nestedTree")
        self.flat_tree = JsonTree()
        self.flat_tree.setObjectName("flatTree")
        nested_box = QGroupBox("Nested value, as designed")
        QVBoxLayout(nested_box).addWidget(self.nested_tree)
        flat_box = QGroupBox("Flattened, as CDP receives it")
        QVBoxLayout(flat_box).addWidget(self.flat_tree)
        trees = QSplitter(Qt.Orientation.Horizontal)
        trees.addWidget(nested_box)
        trees.addWidget(flat_box)
        self.serialised_note = QLabel()
        self.serialised_note.setObjectName("serialisedNote")
        self.serialised_note.setWordWrap(True)
        preview_box = QGroupBox("Preview")
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.addLayout(controls)
        preview_split = QSplitter(Qt.Orientation.Vertical)
        preview_split.addWidget(self.table)
        preview_split.addWidget(trees)
        preview_split.setSizes([200, 260])
        preview_layout.addWidget(preview_split, 1)
        preview_layout.addWidget(self.serialised_note)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(findings_box)
        right.addWidget(preview_box)
        right.setSizes([110, 500])
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.tabs)
        main.addWidget(right)
        main.setSizes([430, 700])
        # The preview grows with the window: the form on the left needs no more than its width.
        main.setStretchFactor(0, 2)
        main.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(main)

    # -- scenario <-> widgets ----------------------------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        settings = scenario.generator
        with self.loading():
            self.guests_spin.setValue(min(settings.guests, self.guests_spin.maximum()))
            self.orders_edit.setText(str(settings.orders_per_guest))
            self.items_edit.setText(str(settings.items_per_order))
            self.seed_spin.setValue(min(settings.seed, MAX_SEED))
            for index in range(self.locales_list.count()):
                item = self.locales_list.item(index)
                checked = item.data(PATH_ROLE) in settings.locales
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.run_tag_edit.setText(settings.run_tag or "")
            self.run_tag_edit.setPlaceholderText(f"poc{settings.seed} (from the seed)")
            self.provider_edit.setText(settings.identifier_provider)
            self.item_type_edit.setText(settings.item_type)
            self.point_of_sale_edit.setText(settings.point_of_sale)
            try:
                schema = self.context.document.schema()
                problem = ""
            except SchemaFileError as exc:
                schema, problem = scenario.extensions, f"The schema file could not be read: {exc}"
            self.schema_editor.set_schema(schema)
            if problem:
                self._schema_file_note = problem
            elif scenario.schema_file:
                self._schema_file_note = (
                    f"Schema from the file {scenario.schema_file}. Editing it here keeps the edited schema in the "
                    "scenario; the file itself is not changed."
                )
            else:
                self._schema_file_note = "The schema is kept in the scenario file."
        self.schema_note.setText(self._schema_file_note)
        self._update_settings_error()
        self._refresh_findings()

    def store(self, scenario: Scenario) -> Scenario:
        """Raises ValueError (pydantic's ValidationError) when the settings or the schema cannot be used."""
        settings = self.generator_settings(scenario.generator)
        schema_data = self.schema_editor.schema_data()
        problems = self.schema_editor.input_findings()
        if problems:
            raise ValueError(f"the extension schema has a problem: {problems[0]}")
        schema = ExtensionSchema.model_validate(schema_data)
        updated = scenario.model_copy(update={"generator": settings})
        try:
            current = self.context.document.schema()
        except SchemaFileError:
            current = None
        if schema != current:
            updated = updated.model_copy(update={"schema_file": None, "extensions": schema})
        return updated

    def generator_settings(self, base: GeneratorSettings | None = None) -> GeneratorSettings:
        """The settings in the form; raises pydantic's ValidationError (a ValueError) when they are impossible."""
        base = base or self.context.document.scenario.generator
        data = base.model_dump()
        data.update(
            guests=self.guests_spin.value(),
            orders_per_guest=self.orders_edit.text().strip(),
            items_per_order=self.items_edit.text().strip(),
            seed=self.seed_spin.value(),
            locales=self.checked_locales(),
            run_tag=self.run_tag_edit.text().strip() or None,
            identifier_provider=self.provider_edit.text().strip(),
            item_type=self.item_type_edit.text().strip() or "PRODUCT",
            point_of_sale=self.point_of_sale_edit.text().strip() or base.point_of_sale,
        )
        try:
            return GeneratorSettings.model_validate(data)
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise
            # Distribution.parse raises a plain ValueError from inside the validator on bad text.
            raise ValueError(str(exc)) from None

    def checked_locales(self) -> list[str]:
        return [
            self.locales_list.item(i).data(PATH_ROLE)
            for i in range(self.locales_list.count())
            if self.locales_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    # -- findings -----------------------------------------------------------------------------------------------

    def _settings_problem(self) -> str | None:
        try:
            self.generator_settings()
        except ValidationError as exc:
            return settings_problems(exc)
        except ValueError as exc:
            return str(exc)
        return None

    def current_schema(self) -> tuple[ExtensionSchema | None, list[Finding]]:
        findings = self.schema_editor.input_findings()
        if findings:
            return None, findings
        try:
            schema = ExtensionSchema.model_validate(self.schema_editor.schema_data())
        except ValidationError as exc:
            return None, validation_findings(exc)
        api = self.context.document.scenario.integration.load
        return schema, limit_findings(schema, api)

    def findings(self) -> list[Finding]:
        """Everything listed: the schema's own problems, CDP's limits, and (from the last preview) values and lint."""
        _schema, found = self.current_schema()
        return found + self._preview_findings

    def _refresh_findings(self) -> None:
        self.findings_list.clear()
        found = self.findings()
        for finding in found:
            item = QListWidgetItem(str(finding))
            item.setData(PATH_ROLE, finding.schema_path)
            item.setToolTip(str(finding))
            self.findings_list.addItem(item)
        if not found:
            placeholder = QListWidgetItem("No findings: the schema and the sample follow CDP's rules.")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.findings_list.addItem(placeholder)
        self.status_changed.emit()

    def _on_finding_activated(self, item: QListWidgetItem) -> None:
        path = item.data(PATH_ROLE)
        if path:
            self.tabs.setCurrentIndex(0)
            self.schema_editor.select_path(path)

    def validation_error(self) -> str | None:
        problem = self._settings_problem()
        if problem:
            return f"generator settings: {problem}"
        if self.guests_spin.value() == 0:
            return "generate at least one guest"
        _schema, found = self.current_schema()
        found = found + [f for f in self._preview_findings if f.source == "values"]
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            return f"the extension schema breaks a rule: {found[0]}{more}"
        lint = [f for f in self._preview_findings if f.source == "lint"]
        if lint:
            return f"the sample breaks CDP's rules: {lint[0]}"
        return None

    def is_busy(self) -> bool:
        return self._preview_busy

    # -- reactions -----------------------------------------------------------------------------------------------

    def _update_settings_error(self) -> None:
        problem = self._settings_problem()
        self.settings_error.setText(f"Not usable: {problem}" if problem else "")
        self.run_tag_edit.setPlaceholderText(f"poc{self.seed_spin.value()} (from the seed)")

    def _on_settings_edited(self, *_args: object) -> None:
        if self._loading:
            return
        self._update_settings_error()
        self._on_widget_edited()
        self._schedule_preview()

    def _on_new_seed_clicked(self) -> None:
        self.seed_spin.setValue(random.SystemRandom().randint(0, MAX_SEED))

    def _on_schema_edited(self) -> None:
        self._preview_findings = []
        self._refresh_findings()
        self._on_widget_edited()
        self._schedule_preview()

    def _on_sample_size_changed(self, value: int) -> None:
        self.context.update_settings(preview_size=value)
        self._schedule_preview()

    def shown(self) -> None:
        self._active = True
        self._schedule_preview()

    def left(self) -> None:
        self._active = False
        self._timer.stop()

    def _schedule_preview(self) -> None:
        if self._active:
            self._timer.start(self.context.preview_delay_ms)

    def refresh_preview(self) -> None:
        """Generate the sample now, in a job; stale results of an earlier run are dropped."""
        self._timer.stop()
        schema, _found = self.current_schema()
        try:
            settings = self.generator_settings()
        except ValueError:
            settings = None
        if schema is None or settings is None:
            self.preview_status.setText("No preview until the problems above are fixed.")
            self.preview_updated.emit()
            return
        for job in self.context.runner.running("preview"):
            job.cancel()
        self._generation += 1
        generation = self._generation
        count = self.sample_spin.value()
        api = self.context.document.scenario.integration.load
        self._preview_busy = True
        self.preview_status.setText(f"Generating {count} guests…")
        self.status_changed.emit()

        def body(report: Report, cancel: CancelToken) -> PreviewResult:
            return generate_preview(settings, schema, count, api, report, cancel, self._generators)

        def done(result: PreviewResult) -> None:
            if generation == self._generation:
                self._show_preview(result, schema)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._preview_busy = False
                self.preview_status.setText(f"The preview failed: {exc}")
                self.preview_updated.emit()
                self.status_changed.emit()

        self.context.runner.submit(body, name="preview", on_success=done, on_failure=failed)

    def _show_preview(self, result: PreviewResult, schema: ExtensionSchema) -> None:
        self._preview_busy = False
        self._preview = result
        self._preview_findings = result.findings
        self.table_model.set_guests(result.guests, result.lint_counts)
        self._fit_preview_columns()
        if result.guests:
            self.table.selectRow(0)
            self.preview_status.setText(
                f"{len(result.guests)} guests and {result.orders} orders in {result.seconds:.2f} s "
                f"(run tag {result.run_tag}); the same seed gives the same guests."
            )
        else:
            self.nested_tree.clear()
            self.flat_tree.clear()
            self.preview_status.setText("No sample: see the findings.")
        paths = serialised_fields(schema)
        self.serialised_note.setText(
            "Reaches CDP as one JSON string, which segments and decision models must unpack with custom code: "
            + ", ".join(paths)
            if paths
            else "Every nested field reaches CDP as prefixed keys, usable directly in segments."
        )
        self._refresh_findings()
        self.preview_updated.emit()

    def _fit_preview_columns(self) -> None:
        """Every header readable, no column wider than a long e-mail, so Findings stays in view."""
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(self.table_model.columnCount() - 1):
            header.resizeSection(column, min(header.sectionSize(column), 130))

    def _on_table_row_changed(self, current: Any, _previous: Any) -> None:
        if not current.isValid():
            return
        guest = self.table_model.guest(current.row())
        nested: dict[str, Any] = {"guest": guest.nested_extensions}
        flat: dict[str, Any] = {"guest": {"extensions": guest.guest.get("extensions", [])}}
        if guest.orders:
            nested["orders"] = [
                {"extension": o.nested_extension, "items": o.nested_item_extensions} for o in guest.orders
            ]
            flat["orders"] = [
                {
                    "referenceId": o.record["value"]["referenceId"],
                    "extensions": o.record["value"].get("extensions", []),
                    "orderItems": [{"extensions": i.get("extensions", [])} for i in o.record["value"]["orderItems"]],
                }
                for o in guest.orders
            ]
        self.nested_tree.set_value(nested)
        self.flat_tree.set_value(flat)

    @property
    def preview(self) -> PreviewResult | None:
        return self._preview
