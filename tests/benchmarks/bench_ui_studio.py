"""Studio benchmarks: start-up to a usable window, and the UI thread's longest stall during a 100-guest preview.

Run with `pytest tests/benchmarks/bench_ui_studio.py -s`; figures are printed and no timing is asserted (the
machines these run on are shared and noisy). The stall figures come with an idle baseline: the same heartbeat
with nothing running, so that the scheduler's own noise can be told apart from the studio's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from cdp_poc_studio.app import create_main_window
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.targets.sandbox_process import SandboxOptions
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.figures import report

STARTUP_SCRIPT = """
import os, sys, time
t0 = time.perf_counter()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtWidgets import QApplication
from cdp_poc_studio.app import _application, create_main_window
app = _application(sys.argv[:1])
t1 = time.perf_counter()
window = create_main_window(settings_path=__import__("pathlib").Path(sys.argv[1]), autostart_sandbox=False)
window.show()
app.processEvents()
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t2 - t0:.3f}")
window.shutdown()
"""


def test_startup_to_a_usable_window(tmp_path: Path) -> None:
    rows = []
    totals = []
    for run in range(3):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_SCRIPT, str(tmp_path / f"settings{run}.json")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        wall = time.perf_counter() - started
        qt, window, inside = (float(x) for x in out)
        totals.append(inside)
        rows.append((f"run {run + 1}", f"Qt+app {qt * 1000:.0f} ms, window {window * 1000:.0f} ms, "
                     f"usable after {inside * 1000:.0f} ms (process wall {wall * 1000:.0f} ms)"))  # fmt: skip
    rows.append(("median usable", f"{sorted(totals)[1] * 1000:.0f} ms from interpreter start (imports included)"))
    report("start-up to a usable main window (offscreen)", rows)


def _heartbeat_gaps(run, qtbot) -> list[float]:  # type: ignore[no-untyped-def]
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    heartbeat.start()
    run()
    heartbeat.stop()
    return gaps


def test_preview_of_100_guests_never_stalls_the_ui_thread(qtbot, tmp_path: Path) -> None:
    window = create_main_window(
        settings_path=tmp_path / "settings.json",
        runner=TaskRunner(),
        sandbox_options=SandboxOptions(),
        autostart_sandbox=False,
        preview_delay_ms=0,
    )
    window.show()
    try:
        rows = []
        worst_all = 0.0
        worst_idle = 0.0
        for template in ("retail_loyalty.toml", "travel_bookings.toml", "hospitality_stays.toml"):
            window.document.set_modified(False)
            window.open_template(SCENARIOS / template)
            window.go_to(2)
            page = window.design_page
            page.guests_spin.setValue(max(page.guests_spin.value(), 1000))  # the travel scenario has only 40
            page.sample_spin.setValue(100)
            qtbot.waitUntil(lambda page=page: not page.is_busy(), timeout=20_000)
            ui_ms: list[float] = []
            original = page._show_preview

            def timed(*args, original=original, ui_ms=ui_ms) -> None:  # type: ignore[no-untyped-def]
                began = time.perf_counter()
                original(*args)
                ui_ms.append((time.perf_counter() - began) * 1000)

            page._show_preview = timed  # type: ignore[method-assign]
            for _ in range(3):
                elapsed = [0.0]

                def run(page=page, elapsed=elapsed) -> None:  # type: ignore[no-untyped-def]
                    started = time.perf_counter()
                    with qtbot.waitSignal(page.preview_updated, timeout=30_000):
                        page.refresh_preview()
                    elapsed[0] = time.perf_counter() - started
                    for _ in range(5):  # let the table and the trees paint, inside the measurement
                        QApplication.processEvents()
                        time.sleep(0.005)

                gaps = _heartbeat_gaps(run, qtbot)
                idle = _heartbeat_gaps(lambda e=elapsed: qtbot.wait(int(e[0] * 1000) + 25), qtbot)
                worst = max(gaps, default=0.0)
                worst_all = max(worst_all, worst)
                worst_idle = max(worst_idle, max(idle, default=0.0))
                assert page.table_model.rowCount() == 100
                rows.append((f"{template} 100 guests", f"preview {elapsed[0] * 1000:.0f} ms, longest UI stall "
                             f"{worst:.0f} ms (idle baseline {max(idle, default=0.0):.0f} ms), UI-thread work "
                             f"{ui_ms[-1]:.1f} ms"))  # fmt: skip
            page._show_preview = original  # type: ignore[method-assign]
            window.go_to(0)
        rows.append(("worst stall", f"{worst_all:.0f} ms (budget 100 ms; 5 ms heartbeat)"))
        rows.append(("worst idle stall", f"{worst_idle:.0f} ms: the machine's own noise, nothing running"))
        report("UI thread heartbeat during the live preview (real worker threads)", rows)
    finally:
        window.document.set_modified(False)
        window.shutdown()
        window.close()
        window.deleteLater()
