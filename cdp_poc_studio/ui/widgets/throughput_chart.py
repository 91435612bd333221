"""The live chart of a run: records per second and HTTP errors retried per second, over the last two minutes.

The two have their own axes, so a few errors can fill the chart's height while no record is done yet (a read-back
under 429s): the legend, the axis and the tooltip say that the red line counts calls retried, not records lost.
"""

from __future__ import annotations

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

from cdp_poc_studio.ui.run_controller import RunController, Sample

WINDOW_SECONDS = 120.0


class ThroughputChart(QChartView):
    """Appends one point per sample (four a second); the axes follow the data, never a full redraw of history."""

    def __init__(self, run: RunController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("throughputChart")
        self.records = QLineSeries()
        self.records.setName("records done / s")
        self.records.setPen(QPen(QColor("#1565c0"), 2))
        self.errors = QLineSeries()
        self.errors.setName("HTTP errors retried / s (right axis)")
        self.errors.setPen(QPen(QColor("#c62828"), 2))
        chart = QChart()
        chart.addSeries(self.records)
        chart.addSeries(self.errors)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        chart.setTitle("Throughput, and the HTTP errors the client retried")
        self.x_axis = QValueAxis()
        self.x_axis.setTitleText("seconds")
        self.x_axis.setLabelFormat("%d")
        self.x_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        self.x_axis.setTickInterval(10)
        self.y_axis = QValueAxis()
        self.y_axis.setLabelFormat("%d")
        self.y_axis.setTitleText("records / s")
        self.y_errors = QValueAxis()
        self.y_errors.setLabelFormat("%d")
        self.y_errors.setTitleText("retried / s")
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self.y_errors, Qt.AlignmentFlag.AlignRight)
        self.records.attachAxis(self.x_axis)
        self.records.attachAxis(self.y_axis)
        self.errors.attachAxis(self.x_axis)
        self.errors.attachAxis(self.y_errors)
        self.setChart(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(180)
        self.setToolTip(
            "Blue: records done per second. Red: calls CDP answered with an error (429, 500…) or not at all; the "
            "client retries each, so they are not lost records. Records CDP rejected are listed in the Errors tab."
        )
        self._top = 10.0
        self._top_errors = 5.0
        self.reset()
        run.run_started.connect(self.reset)
        run.sampled.connect(self.add)

    def reset(self) -> None:
        self.records.clear()
        self.errors.clear()
        self._top, self._top_errors = 10.0, 5.0
        self.x_axis.setRange(0, 30)
        self.y_axis.setRange(0, self._top)
        self.y_errors.setRange(0, self._top_errors)

    def add(self, sample: Sample) -> None:
        self.records.append(sample.seconds, sample.records_per_second)
        self.errors.append(sample.seconds, sample.errors_per_second)
        start = max(0.0, sample.seconds - WINDOW_SECONDS)
        end = max(30.0, sample.seconds)
        if end > self.x_axis.max() or start > self.x_axis.min():
            # Whole 30-second steps, so that the tick labels stay round.
            self.x_axis.setRange(start - start % 30, end + 30 - end % 30)
        # The points the axis no longer shows go: the series hold the window's points (however many a second the
        # run samples), so a run of hours costs the chart no more than its first few minutes.
        shown_from = self.x_axis.min()
        for series in (self.records, self.errors):
            hidden = 0
            while hidden < series.count() and series.at(hidden).x() < shown_from:
                hidden += 1
            if hidden:
                series.removePoints(0, hidden)
        if sample.records_per_second > self._top:
            self._top = sample.records_per_second * 1.25
            self.y_axis.setRange(0, self._top)
            self.y_axis.applyNiceNumbers()
            self._top = self.y_axis.max()
        if sample.errors_per_second > self._top_errors:
            self._top_errors = sample.errors_per_second * 1.25
            self.y_errors.setRange(0, self._top_errors)
            self.y_errors.applyNiceNumbers()
            self._top_errors = self.y_errors.max()
