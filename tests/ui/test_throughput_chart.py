"""The Send page's live chart over a long run: it shows the last two minutes, and holds no more points than that."""

from __future__ import annotations

from cdp_poc_studio.ui.run_controller import SAMPLE_SECONDS, Sample
from cdp_poc_studio.ui.widgets.throughput_chart import WINDOW_SECONDS


def test_the_chart_keeps_the_points_of_its_window_only(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    chart = window.send_page.chart
    run = window.run
    samples = 4000  # 1,000 s of a run at the controller's rate, eight times the chart's window
    for n in range(1, samples + 1):
        run.sampled.emit(Sample(n * SAMPLE_SECONDS, 1000.0 + n % 7, float(n % 3)))
    last = samples * SAMPLE_SECONDS
    # The axis shows the last two minutes (from a whole 30 s), and the series hold just what it shows.
    assert chart.x_axis.max() >= last
    assert chart.x_axis.min() <= last - WINDOW_SECONDS
    per_window = (WINDOW_SECONDS + 30) / SAMPLE_SECONDS
    for series in (chart.records, chart.errors):
        points = series.points()
        assert len(points) <= per_window
        assert points[-1].x() == last
        # The line starts at the axis's left edge (not half way along it), and nothing older is kept.
        assert chart.x_axis.min() <= points[0].x() < chart.x_axis.min() + SAMPLE_SECONDS
        # Every sample inside the window is drawn: from the first shown second on, none is missing.
        assert len(points) == round((last - points[0].x()) / SAMPLE_SECONDS) + 1
    assert chart.records.at(chart.records.count() - 1).y() == 1000.0 + samples % 7

    # A new run starts an empty chart at 0 s.
    run.run_started.emit()
    assert chart.records.count() == chart.errors.count() == 0
    assert (chart.x_axis.min(), chart.x_axis.max()) == (0, 30)
