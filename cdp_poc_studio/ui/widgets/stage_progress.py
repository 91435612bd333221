"""One row per stage of a run: its name, a progress bar, and counts, rate and time left."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from cdp_poc_studio.ui.run_controller import RunController

STATUS_MARKS = {
    "pending": "○",
    "running": "◐",
    "done": "✔",
    "skipped": "–",
    "waiting": "⏸",
    "failed": "✖",
    "cancelled": "■",
}


class StageProgressPanel(QWidget):
    """Shows the named stages of the run controller; refreshed when its stages change (already throttled)."""

    def __init__(self, run: RunController, stages: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.names = stages
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setColumnStretch(2, 1)
        self.labels: dict[str, QLabel] = {}
        self.bars: dict[str, QProgressBar] = {}
        self.details: dict[str, QLabel] = {}
        for row, name in enumerate(stages):
            label = QLabel()
            bar = QProgressBar()
            bar.setObjectName(f"stage_{name}")
            bar.setMinimumWidth(260)
            bar.setTextVisible(True)
            detail = QLabel()
            detail.setObjectName(f"stageDetail_{name}")
            # A stage fighting errors says a lot (calls in flight, retries, the next retry): wrap, never clip.
            detail.setWordWrap(True)
            layout.addWidget(label, row, 0)
            layout.addWidget(bar, row, 1)
            layout.addWidget(detail, row, 2)
            self.labels[name], self.bars[name], self.details[name] = label, bar, detail
        run.stages_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        for name in self.names:
            stage = self.run.stage(name)
            self.labels[name].setText(f"{STATUS_MARKS[stage.status]}  {stage.label}")
            bar = self.bars[name]
            if stage.status == "running" and not stage.total:
                bar.setRange(0, 0)  # busy: a total is not known (CDP processing, the export running)
            else:
                total = stage.total or 1
                bar.setRange(0, total)
                full = stage.status in ("done", "skipped") and not stage.total
                bar.setValue(total if full else min(stage.done, total))
            bar.setFormat("%p %" if stage.total else ("done" if stage.status == "done" else stage.status))
            self.details[name].setText(stage.detail())
