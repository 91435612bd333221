"""Choose the integration point: the advisor's questions, its recommendation with reasons, limits and time
semantics, and the user's own choice for loading and for pulling back."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cdp_poc_studio.roundtrip.advisor import AdvisorAnswers, Recommendation, advise
from cdp_poc_studio.roundtrip.scenario import IntegrationSpec, Scenario
from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page
from cdp_poc_studio.ui.widgets.capacity_panel import CapacityPanel

DIRECTIONS = [("both", "Load data in and take it out"), ("load", "Load data in"), ("extract", "Take data out")]
FREQUENCIES = [("once", "Once"), ("daily", "Daily"), ("hourly", "Hourly"), ("continuous", "Continuously")]
FRESHNESS = [
    ("seconds", "Within seconds"),
    ("minutes", "Within minutes"),
    ("hours", "Within hours"),
    ("next_day", "Next day is fine"),
]
PURPOSES = [
    ("activation", "Activation (segments, personalisation)"),
    ("integration", "Integration with another system"),
    ("analytics", "Analytics"),
    ("backup", "Historical backup"),
]
LOAD_NAMES = {"batch": "Batch API", "rest": "Guest and Order REST API"}
PULL_NAMES = {"rest": "REST read-back", "export": "Audience Export"}


def _combo(options: list[tuple[str, str]]) -> QComboBox:
    combo = QComboBox()
    for value, label in options:
        combo.addItem(label, value)
    return combo


def _select(combo: QComboBox, value: Any) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(max(index, 0))


class IntegrationPage(Page):
    title = "Choose the integration point"
    subtitle = "How the data goes into CDP and how the PoC pulls it back out."

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._advisor_touched = False
        self._had_advisor = False
        self._recommendation: Recommendation | None = None

        questions = QGroupBox("The customer's data flow")
        form = QFormLayout(questions)
        self.direction = _combo(DIRECTIONS)
        self.volume = QSpinBox()
        self.volume.setRange(0, 1_000_000_000)
        self.volume.setSingleStep(1000)
        self.volume.setGroupSeparatorShown(True)
        self.volume.setSuffix(" records")
        self.frequency = _combo(FREQUENCIES)
        self.freshness = _combo(FRESHNESS)
        self.partial = QCheckBox("Single fields change, not whole records")
        self.purpose = _combo(PURPOSES)
        self.no_code = QCheckBox("The customer wants a no-code connection")
        form.addRow("Direction:", self.direction)
        form.addRow("Records per load:", self.volume)
        form.addRow("How often:", self.frequency)
        form.addRow("How fresh in CDP:", self.freshness)
        form.addRow("", self.partial)
        form.addRow("Data taken out for:", self.purpose)
        form.addRow("", self.no_code)
        for combo in (self.direction, self.frequency, self.freshness, self.purpose):
            combo.currentIndexChanged.connect(self._on_question_changed)
        self.volume.valueChanged.connect(self._on_question_changed)
        self.partial.toggled.connect(self._on_question_changed)
        self.no_code.toggled.connect(self._on_question_changed)

        advice = QGroupBox("Recommendation")
        advice_layout = QVBoxLayout(advice)
        self.recommendation = QLabel()
        self.recommendation.setObjectName("recommendation")
        self.recommendation.setWordWrap(True)
        self.reasons = QTextBrowser()
        self.reasons.setObjectName("reasons")
        self.reasons.setOpenExternalLinks(False)
        self.use_recommendation = QPushButton("Use the recommendation")
        self.use_recommendation.clicked.connect(self._on_use_recommendation_clicked)
        advice_layout.addWidget(self.recommendation)
        advice_layout.addWidget(self.reasons, 1)
        advice_layout.addWidget(self.use_recommendation, 0, Qt.AlignmentFlag.AlignLeft)

        choice = QGroupBox("Your choice for this PoC")
        choice_layout = QFormLayout(choice)
        self.load_batch = QRadioButton(LOAD_NAMES["batch"])
        self.load_rest = QRadioButton(LOAD_NAMES["rest"])
        self._load_group = QButtonGroup(self)
        self._load_group.addButton(self.load_batch)
        self._load_group.addButton(self.load_rest)
        loads = QHBoxLayout()
        loads.addWidget(self.load_batch)
        loads.addWidget(self.load_rest)
        loads.addStretch(1)
        self.pull_rest = QCheckBox(PULL_NAMES["rest"] + " (at once)")
        self.pull_export = QCheckBox(PULL_NAMES["export"] + " (next day on a real tenant)")
        pulls = QHBoxLayout()
        pulls.addWidget(self.pull_rest)
        pulls.addWidget(self.pull_export)
        pulls.addStretch(1)
        choice_layout.addRow("Load with:", loads)
        choice_layout.addRow("Pull back with:", pulls)
        self.choice_note = QLabel()
        self.choice_note.setObjectName("choiceNote")
        self.choice_note.setWordWrap(True)
        choice_layout.addRow(self.choice_note)
        for button in (self.load_batch, self.load_rest, self.pull_rest, self.pull_export):
            button.toggled.connect(self._on_choice_changed)

        self.capacity = CapacityPanel()
        left = QVBoxLayout()
        left.addWidget(questions)
        left.addWidget(choice)
        left.addWidget(self.capacity)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(advice, 1)

    # -- reading and writing the scenario ----------------------------------------------------------------------

    def load(self, scenario: Scenario) -> None:
        integration = scenario.integration
        answers = integration.advisor or AdvisorAnswers()
        self._had_advisor = integration.advisor is not None
        self._advisor_touched = False
        with self.loading():
            _select(self.direction, answers.direction)
            self.volume.setValue(answers.volume)
            _select(self.frequency, answers.frequency)
            _select(self.freshness, answers.freshness)
            self.partial.setChecked(answers.partial_updates)
            _select(self.purpose, answers.purpose)
            self.no_code.setChecked(answers.no_code)
            (self.load_batch if integration.load == "batch" else self.load_rest).setChecked(True)
            self.pull_rest.setChecked("rest" in integration.pull_back)
            self.pull_export.setChecked("export" in integration.pull_back)
        self._refresh()

    def answers(self) -> AdvisorAnswers:
        return AdvisorAnswers(
            direction=self.direction.currentData(),
            volume=self.volume.value(),
            frequency=self.frequency.currentData(),
            freshness=self.freshness.currentData(),
            partial_updates=self.partial.isChecked(),
            purpose=self.purpose.currentData(),
            no_code=self.no_code.isChecked(),
        )

    def chosen_pull_back(self) -> list[str]:
        return [name for name, box in (("rest", self.pull_rest), ("export", self.pull_export)) if box.isChecked()]

    def store(self, scenario: Scenario) -> Scenario:
        pull_back = self.chosen_pull_back() or list(scenario.integration.pull_back)
        advisor = self.answers() if (self._advisor_touched or self._had_advisor) else None
        integration = IntegrationSpec(
            load="batch" if self.load_batch.isChecked() else "rest",
            pull_back=pull_back,
            advisor=advisor,
        )
        return scenario.model_copy(update={"integration": integration})

    def validation_error(self) -> str | None:
        if not self.chosen_pull_back():
            return "Choose at least one way to pull the data back: REST read-back, Audience Export or both."
        return None

    # -- reactions ---------------------------------------------------------------------------------------------

    def _on_question_changed(self, *_args: object) -> None:
        if not self._loading:
            self._advisor_touched = True
        self._refresh()
        self._on_widget_edited()

    def _on_choice_changed(self, *_args: object) -> None:
        self._refresh_note()
        self._on_widget_edited()

    def _on_use_recommendation_clicked(self) -> None:
        if self._recommendation is None:
            return
        self._advisor_touched = True
        rec = self._recommendation
        (self.load_batch if rec.load == "batch" else self.load_rest).setChecked(True)
        self.pull_rest.setChecked("rest" in rec.pull_back)
        self.pull_export.setChecked("export" in rec.pull_back)
        self._on_widget_edited()

    def _refresh(self) -> None:
        rec = advise(self.answers())
        self._recommendation = rec
        pulls = " and ".join(PULL_NAMES[p] for p in rec.pull_back)
        self.recommendation.setText(f"<b>Load with the {LOAD_NAMES[rec.load]}; pull back with {pulls}.</b>")
        html = ["<h4>Why</h4><ul>", *(f"<li>{r}</li>" for r in rec.reasons), "</ul>"]
        html += ["<h4>Limits and time semantics</h4><ul>", *(f"<li>{limit}</li>" for limit in rec.limits), "</ul>"]
        if rec.elsewhere:
            html += ["<h4>Outside the studio</h4><ul>", *(f"<li>{e}</li>" for e in rec.elsewhere), "</ul>"]
        self.reasons.setHtml("".join(html))
        self.capacity.show_volume(self.volume.value())
        self._refresh_note()

    def _refresh_note(self) -> None:
        rec = self._recommendation
        if rec is None:
            return
        load = "batch" if self.load_batch.isChecked() else "rest"
        notes = []
        if load != rec.load:
            notes.append(f"You chose the {LOAD_NAMES[load]} where the advisor recommends the {LOAD_NAMES[rec.load]}.")
        if "export" in self.chosen_pull_back():
            notes.append(
                "Audience exports read a snapshot taken at midnight UTC: on a real tenant, data loaded today "
                "exports tomorrow (the sandbox can make exports immediate)."
            )
        self.choice_note.setText(" ".join(notes))
