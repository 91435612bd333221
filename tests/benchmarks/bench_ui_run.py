"""Studio benchmark: a 100,000-guest batch run in the GUI, on the embedded sandbox in its own process.

A 10 ms timer heartbeat on the UI thread measures the longest stall while the pipeline works in its own child
process (the studio's default; target: never over 100 ms), and the GUI process's RSS is sampled every second (target:
flat). Run with `pytest tests/benchmarks/bench_ui_run.py -s`; figures are printed, no timing is asserted.
`BENCH_GUESTS` changes the guest count; `BENCH_TRACEMALLOC=1` also prints, for the GUI process, what grew between the
start and the end of the send stage: Python allocations by line (tracemalloc) and resident memory by mapping (heap,
anonymous arenas, each library and file), for the growth tracemalloc cannot see. The run pulls back by audience export
only: the REST read-back of 100,000 guests one by one takes far longer than the rest of the run (about 40 guests a
second on the sandbox, see the report).
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from pathlib import Path

import psutil
from PySide6.QtCore import QElapsedTimer, QTimer

from cdp_poc_studio.app import create_main_window
from cdp_poc_studio.resources import SCENARIOS
from cdp_poc_studio.targets.sandbox_process import SandboxOptions
from cdp_poc_studio.workers.tasks import TaskRunner
from tests.helpers.figures import report

GUESTS = int(os.environ.get("BENCH_GUESTS", "100000"))
HEARTBEAT_MS = 10
TRACE = os.environ.get("BENCH_TRACEMALLOC") == "1"


def resident_by_mapping(process: psutil.Process) -> dict[str, float]:
    """Resident MB per mapping path ("[heap]", "[anon]" for arenas and mmaps, each .so and file)."""
    return {m.path or "[anon]": m.rss / 1e6 for m in process.memory_maps(grouped=True)}


def growth_rows(label: str, before: tuple[tracemalloc.Snapshot, dict[str, float]],
                after: tuple[tracemalloc.Snapshot, dict[str, float]]) -> list[tuple[str, str]]:  # fmt: skip
    rows = []
    stats = after[0].compare_to(before[0], "lineno")
    total = sum(s.size_diff for s in stats) / 1e6
    rows.append((f"{label}: Python", f"{total:+.1f} MB traced in all; largest by line:"))
    for stat in sorted(stats, key=lambda s: -abs(s.size_diff))[:12]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        rows.append(("", f"{stat.size_diff / 1e6:+7.2f} MB {stat.count_diff:+8,} blocks  {where}"))
    maps = {path: after[1].get(path, 0.0) - before[1].get(path, 0.0) for path in before[1].keys() | after[1].keys()}
    rows.append((f"{label}: resident", f"{sum(maps.values()):+.1f} MB in all; largest by mapping:"))
    for path, mb in sorted(maps.items(), key=lambda item: -abs(item[1]))[:10]:
        rows.append(("", f"{mb:+7.2f} MB  {path}"))
    return rows


def test_a_100k_guest_batch_run_never_stalls_the_ui_thread(qtbot, tmp_path: Path) -> None:
    window = create_main_window(
        settings_path=tmp_path / "settings.json",
        runner=TaskRunner(),
        sandbox_options=SandboxOptions(db_path=str(tmp_path / "sandbox.sqlite")),
        autostart_sandbox=False,
        preview_delay_ms=0,
        runs_root=tmp_path / "runs",
    )
    window.resize(1400, 900)
    window.show()
    process = psutil.Process()
    try:
        window.open_template(SCENARIOS / "retail_loyalty.toml")
        scenario = window.document.scenario
        window.document.replace(
            scenario.model_copy(
                update={
                    "generator": scenario.generator.model_copy(update={"guests": GUESTS}),
                    "integration": scenario.integration.model_copy(update={"pull_back": ["export"]}),
                }
            )
        )
        sandbox = window.context.sandbox
        with qtbot.waitSignal(sandbox.state_changed, timeout=60_000, check_params_cb=lambda s: s == "running"):
            sandbox.start()
        window.go_to(4)  # the Send page, its bars and live chart painting as the run goes
        window.show_console()  # and the request console, fed as requests are made
        qtbot.wait(300)

        clock = QElapsedTimer()
        clock.start()
        gaps: list[tuple[float, float, str]] = []  # (at ms, gap ms, running stage)
        last = [clock.elapsed()]
        run = window.run

        def beat() -> None:
            now = clock.elapsed()
            stage = next((s.name for s in run.view.stages.values() if s.status == "running"), "-")
            gaps.append((now, now - last[0], stage))
            last[0] = now

        rss: list[tuple[float, float, str]] = []
        # With BENCH_TRACEMALLOC: the GUI process's memory as each stage is first seen running, and after the run.
        marks: dict[str, tuple[tracemalloc.Snapshot, dict[str, float]]] = {}

        def mark(name: str) -> None:
            if TRACE and name not in marks:
                marks[name] = (tracemalloc.take_snapshot(), resident_by_mapping(process))

        child_pids: set[int] = set()

        def sample_memory() -> None:
            if run.child_pid is not None:  # known once the run's process has written its first line
                child_pids.add(run.child_pid)
            stage = next((s.name for s in run.view.stages.values() if s.status == "running"), "-")
            rss.append((clock.elapsed() / 1000, process.memory_info().rss / 1e6, stage))
            mark(stage)

        heartbeat = QTimer()
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(beat)
        memory = QTimer()
        memory.setInterval(1000)
        memory.timeout.connect(sample_memory)

        # An idle baseline first: the same heartbeat with nothing running, the machine's own noise.
        heartbeat.start()
        qtbot.wait(3000)
        idle = [gap for _, gap, _ in gaps]
        gaps.clear()
        if TRACE:
            tracemalloc.start(1)
        sample_memory()
        started = time.perf_counter()
        memory.start()
        with qtbot.waitSignal(run.run_finished, timeout=3 * 3600 * 1000):
            window.send_page.send()
        wall = time.perf_counter() - started
        sample_memory()
        mark("end")
        window.go_to(5)  # the verify page fills its table and charts from the report
        qtbot.wait(500)
        heartbeat.stop()
        memory.stop()

        result = run.report
        assert result is not None
        assert result.verdict == "passed", [d for d in result.differences if d.outcome.fails][:3]
        during = [gap for _, gap, _ in gaps]
        worst = max(during)
        at, _, stage_at = max(gaps, key=lambda g: g[1])
        over = sum(1 for gap in during if gap > 100)
        stage_seconds = ", ".join(f"{s.name} {s.seconds:.1f} s" for s in result.stages)
        by_stage: dict[str, float] = {}
        for _, gap, stage in gaps:
            by_stage[stage] = max(by_stage.get(stage, 0.0), gap)
        rows = [
            ("guests", f"{GUESTS:,} (batch load, export pull-back), {result.sources[0].records_found:,} found"),
            ("run", f"{wall:.1f} s wall: {stage_seconds}"),
            ("pipeline process", f"pid {' '.join(map(str, sorted(child_pids))) or '?'} (GUI pid {os.getpid()})"),
            ("heartbeats", f"{len(during):,} at {HEARTBEAT_MS} ms"),
            ("longest UI stall", f"{worst:.0f} ms (at {at / 1000:.1f} s, during {stage_at}); budget 100 ms"),
            ("stalls over 100 ms", f"{over}"),
            ("gap p50 / p99", f"{statistics.median(during):.1f} / {sorted(during)[int(len(during) * 0.99)]:.1f} ms"),
            ("longest stall by stage", ", ".join(f"{name} {gap:.0f} ms" for name, gap in by_stage.items())),
            ("idle baseline", f"longest {max(idle):.0f} ms, p99 {sorted(idle)[int(len(idle) * 0.99)]:.1f} ms"),
        ]
        first, peak = rss[0][1], max(r[1] for r in rss)
        per_stage: dict[str, list[float]] = {}
        for _, mb, stage in rss:
            per_stage.setdefault(stage, []).append(mb)
        rows.append(("RSS", f"start {first:.0f} MB, peak {peak:.0f} MB, end {rss[-1][1]:.0f} MB"))
        rows.append(("RSS by stage", ", ".join(f"{n} {min(v):.0f}-{max(v):.0f} MB" for n, v in per_stage.items())))
        quarter = [rss[int(len(rss) * f)][1] for f in (0.25, 0.5, 0.75)]
        rows.append(("RSS at 25/50/75 % of the run", " / ".join(f"{mb:.0f} MB" for mb in quarter)))
        sending = [mb for _, mb, stage in rss if stage == "send"]
        if sending:
            rows.append(("RSS during send", f"first {sending[0]:.0f} MB, last {sending[-1]:.0f} MB, growth "
                         f"{sending[-1] - sending[0]:+.1f} MB (min {min(sending):.0f}, max {max(sending):.0f} MB, "
                         f"{len(sending)} samples)"))  # fmt: skip
        if TRACE:
            tracemalloc.stop()
            stages = [name for name in marks if name not in ("-", "end")]
            after_send = stages[stages.index("send") + 1] if "send" in stages[:-1] else "end"
            if "send" in marks:
                rows += growth_rows("send", marks["send"], marks[after_send])
            if "generate" in marks and "send" in marks:
                rows += growth_rows("generate", marks["generate"], marks["send"])
            if "-" in marks and "generate" in marks:  # from the click on Send to the first second of the run
                rows += growth_rows("run start", marks["-"], marks["generate"])
        report(f"UI thread heartbeat and memory during a {GUESTS:,}-guest batch run in the GUI", rows)
    finally:
        window.document.set_modified(False)
        window.shutdown()
        window.close()
        window.deleteLater()
