"""The files a run in its own process is followed by: whole lines only, liveness by process identity, and a sandbox
handover that exactly one side can claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from cdp_poc_studio.roundtrip.live_run import (
    ChannelReader,
    ChannelWriter,
    LiveRun,
    ProcessId,
    SandboxHandover,
    live_runs,
    running_in_own_process,
    status_of,
)


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_reader_takes_whole_lines_only_and_survives_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    channel = tmp_path / "run.ndjson"
    channel.write_bytes(b'{"folder": "/x"}\n{"event": {"sta')
    reader = ChannelReader(channel)
    assert reader.read() == [{"folder": "/x"}]
    with channel.open("ab") as stream:
        stream.write(b'ge": "send"}}\nnot json\n{"outcome": "finished"}\n')
    assert reader.read() == [{"event": {"stage": "send"}}, {"outcome": "finished"}]
    assert reader.caught_up
    assert reader.read() == []


def test_a_run_is_running_while_its_process_lives_and_lost_when_it_dies_without_an_outcome(tmp_path: Path) -> None:
    live = LiveRun.new(tmp_path)
    sleeper = _sleeper()
    try:
        writer = ChannelWriter(live.channel)
        writer.write({"process": ProcessId.of(sleeper.pid).as_json()})
        folder = tmp_path / "20261129-100000-demo"
        folder.mkdir()
        writer.write({"folder": str(folder)})
        assert status_of(live).liveness == "running"
        assert "still running in a process of its own" in (running_in_own_process(folder) or "")
        sleeper.kill()
        sleeper.wait()
        status = status_of(live)
        assert status.liveness == "lost"
        assert running_in_own_process(folder) is None
        writer.write({"outcome": "failed", "error": "boom"})
        writer.close()
        [ended] = live_runs(tmp_path)
        assert (ended.liveness, ended.outcome, ended.error) == ("ended", "failed", "boom")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_reused_process_id_is_not_taken_for_the_run(tmp_path: Path) -> None:
    sleeper = _sleeper()
    try:
        identity = ProcessId.of(sleeper.pid)
        assert identity.alive()
        assert not ProcessId(sleeper.pid, identity.created - 100).alive()  # same pid, another start time
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_handed_over_sandbox_is_claimed_once_and_stopped_by_its_claimer(tmp_path: Path) -> None:
    live = LiveRun.new(tmp_path)
    sandbox = _sleeper()
    handover = SandboxHandover(ProcessId.of(sandbox.pid), "http://127.0.0.1:1", str(tmp_path / "s.sqlite"))
    live.record_sandbox(handover)
    assert orjson.loads(live.sandbox_file.read_bytes())["db_path"].endswith("s.sqlite")
    claimed = live.claim_sandbox()
    assert claimed == handover
    assert live.claim_sandbox() is None  # the other side finds nothing to claim
    claimed.process.stop(grace=2.0)
    assert sandbox.wait(5) is not None
    assert not claimed.process.alive()
    live.remove()
    assert not (tmp_path / ".live").exists()


def test_a_sandbox_is_not_claimed_while_its_window_lives_and_is_once_the_window_crashed(tmp_path: Path) -> None:
    live = LiveRun.new(tmp_path)
    sandbox, window = _sleeper(), _sleeper()
    try:
        owned = SandboxHandover(
            ProcessId.of(sandbox.pid), "http://127.0.0.1:1", "s.sqlite", window=ProcessId.of(window.pid)
        )
        live.record_sandbox(owned)
        assert live.claim_sandbox() is None  # the window still follows the run: its sandbox is its own
        assert live.sandbox() == owned
        window.kill()
        window.wait()
        assert live.claim_sandbox() == owned  # crashed: the run (or the next window) takes it
    finally:
        for process in (sandbox, window):
            process.kill()
            process.wait()
