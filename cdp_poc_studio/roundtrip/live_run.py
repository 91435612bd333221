"""A run going on in a process of its own, and the files through which whoever started it (or comes back to it)
follows it: `<runs root>/.live/<id>.*`, beside the run folders.

    <id>.job.json       what to run, written by the starter, read and removed by the run's process (no secrets)
    <id>.ndjson         the run's messages, one JSON object a line, appended by the run's process:
                        {"process": {"pid", "created"}} first, then {"folder": PATH}, {"event": StageEvent},
                        {"http_error": STATUS} and last {"outcome": "finished" | "failed" | "cancelled", "error"}
    <id>.cancel         present: stop the run (at its next step; the run folder stays resumable)
    <id>.sandbox.json   the studio's embedded sandbox the run sends to, and the window that owns it: once that window
                        has left the run going (or crashed), the run's process stops the sandbox when it ends,
                        unless a new window has claimed it first
    <id>.stderr         the run process's own error output (the last line explains a crash)

The run folder stays the single source of truth of the run (its state, records and report); these files only say
who is running it and how far it has got, so that a window can close on a run and a new one re-attach to it. They are
removed once a window has seen the run's outcome.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson
import psutil

LIVE_DIR = ".live"
# How much of the channel a reader takes at a time: a window re-attaching to a long run catches up over a few
# ticks instead of stalling on the whole file at once.
READ_CHUNK = 256 * 1024

# A run whose process has not said who it is this long after its job was written never started.
STARTING_SECONDS = 60.0

Liveness = Literal["running", "ended", "lost"]


@dataclass(frozen=True)
class ProcessId:
    """A process, told apart from a later one that was given the same pid by its start time."""

    pid: int
    created: float

    @classmethod
    def current(cls) -> ProcessId:
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.created) < 0.01
            return same and bool(process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (or its Windows equivalent), then kill after `grace` seconds; nothing if it is gone."""
        for signal_it in ("terminate", "kill"):
            if not self.alive():
                return
            try:
                getattr(psutil.Process(self.pid), signal_it)()
            except psutil.Error:
                return
            # Polled rather than waited for: the process may not be ours to wait for, and an exited child of
            # another process stays a zombie until that one reaps it (alive() counts it as gone).
            deadline = time.monotonic() + (grace if signal_it == "terminate" else 5.0)
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)

    def as_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "created": self.created}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessId:
        return cls(int(data["pid"]), float(data["created"]))


@dataclass(frozen=True)
class SandboxHandover:
    """The studio's embedded sandbox a run sends to, and the window process that owns it (None once that window has
    left it to the run)."""

    process: ProcessId
    base_url: str
    db_path: str
    snapshot: str = "immediate"
    certificate: str | None = None
    window: ProcessId | None = None

    @property
    def left(self) -> bool:
        """No window owns it any more: left to the run on closing, or its window crashed."""
        return self.window is None or not self.window.alive()

    def as_json(self) -> dict[str, Any]:
        return {"process": self.process.as_json(), "base_url": self.base_url, "db_path": self.db_path,
                "snapshot": self.snapshot, "certificate": self.certificate,
                "window": self.window.as_json() if self.window else None}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxHandover:
        window = ProcessId.from_json(data["window"]) if data.get("window") else None
        return cls(ProcessId.from_json(data["process"]), str(data["base_url"]), str(data["db_path"]),
                   str(data.get("snapshot") or "immediate"), data.get("certificate"), window)  # fmt: skip


@dataclass(frozen=True)
class LiveRun:
    """One run in its own process, by its id under `<root>/.live`."""

    root: Path
    id: str

    @classmethod
    def new(cls, root: Path) -> LiveRun:
        (root / LIVE_DIR).mkdir(parents=True, exist_ok=True)
        return cls(root, secrets.token_hex(6))

    def _file(self, suffix: str) -> Path:
        return self.root / LIVE_DIR / f"{self.id}{suffix}"

    @property
    def job_file(self) -> Path:
        return self._file(".job.json")

    @property
    def channel(self) -> Path:
        return self._file(".ndjson")

    @property
    def cancel_file(self) -> Path:
        return self._file(".cancel")

    @property
    def sandbox_file(self) -> Path:
        return self._file(".sandbox.json")

    @property
    def stderr_file(self) -> Path:
        return self._file(".stderr")

    def write_job(self, job: dict[str, Any]) -> None:
        self.job_file.write_bytes(orjson.dumps(job))

    def take_job(self) -> dict[str, Any]:
        job: dict[str, Any] = orjson.loads(self.job_file.read_bytes())
        self.job_file.unlink(missing_ok=True)
        return job

    def request_cancel(self) -> None:
        self.cancel_file.touch()

    def cancel_requested(self) -> bool:
        return self.cancel_file.exists()

    # -- the sandbox handed over ------------------------------------------------------------------------------

    def record_sandbox(self, handover: SandboxHandover) -> None:
        """Say which sandbox the run sends to and which window owns it (none: the run stops it when it ends)."""
        temporary = self._file(".sandbox.tmp")
        temporary.write_bytes(orjson.dumps(handover.as_json()))
        temporary.replace(self.sandbox_file)

    def sandbox(self) -> SandboxHandover | None:
        try:
            return SandboxHandover.from_json(orjson.loads(self.sandbox_file.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def claim_sandbox(self) -> SandboxHandover | None:
        """Take the sandbox, once no window owns it (left to the run, or its window crashed) and if it is alive: the
        claimer stops it, or (a new window) keeps it. None while a window owns it, or when there is none.

        The claim is a rename, so that of a window claiming it and the run ending at the same moment only one wins.
        """
        recorded = self.sandbox()
        if recorded is not None and not recorded.left:
            return None
        claimed = self._file(f".sandbox.claimed-{os.getpid()}")
        try:
            self.sandbox_file.replace(claimed)
        except FileNotFoundError:
            return None
        try:
            handover = SandboxHandover.from_json(orjson.loads(claimed.read_bytes()))
        except (ValueError, KeyError, TypeError):
            return None
        finally:
            claimed.unlink(missing_ok=True)
        return handover if handover.process.alive() else None

    def remove(self) -> None:
        """Forget the run's process (after its outcome was seen): the run folder has everything that matters."""
        for path in (self.root / LIVE_DIR).glob(f"{self.id}.*"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder goes with the last run in it
            (self.root / LIVE_DIR).rmdir()


class ChannelWriter:
    """The run's process side: appends messages, one line each, whole lines only (the REST sender reports from
    several threads)."""

    def __init__(self, path: Path) -> None:
        self._stream: IO[bytes] = path.open("ab")
        self._lock = threading.Lock()

    def write(self, message: dict[str, Any]) -> None:
        line = orjson.dumps(message) + b"\n"
        with self._lock:
            self._stream.write(line)
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            self._stream.close()


class ChannelReader:
    """The watcher's side: the messages appended since the last read, whole lines only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self, limit: int = READ_CHUNK) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read(limit)
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        messages = []
        for line in lines:
            if line.strip():
                try:
                    messages.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue  # a line cut by a crash: the outcome (or its absence) still tells what happened
        return messages

    @property
    def caught_up(self) -> bool:
        try:
            return self._offset >= self.path.stat().st_size
        except FileNotFoundError:
            return True


@dataclass(frozen=True)
class LiveStatus:
    """What the files say of a run in its own process: still running, ended (outcome written), or lost (its process
    is gone without an outcome: killed, or the computer restarted)."""

    live: LiveRun
    liveness: Liveness
    folder: Path | None
    process: ProcessId | None
    outcome: str | None
    error: str

    @property
    def handed_over_sandbox(self) -> bool:
        recorded = self.live.sandbox()
        return recorded is not None and recorded.left


def status_of(live: LiveRun) -> LiveStatus:
    folder: Path | None = None
    process: ProcessId | None = None
    outcome: str | None = None
    error = ""
    reader = ChannelReader(live.channel)
    while True:
        messages = reader.read(4 * 1024 * 1024)
        if not messages and reader.caught_up:
            break
        for message in messages:
            if "process" in message:
                process = ProcessId.from_json(message["process"])
            elif "folder" in message:
                folder = Path(message["folder"])
            elif "outcome" in message:
                outcome, error = str(message["outcome"]), str(message.get("error") or "")
    if outcome is not None:
        liveness: Liveness = "ended"
    elif process is not None and process.alive():
        liveness = "running"
    elif process is None and starting(live):
        liveness = "running"  # just started: its process has not written its first line yet
    else:
        liveness = "lost"
    return LiveStatus(live, liveness, folder, process, outcome, error)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def live_runs(root: Path) -> list[LiveStatus]:
    """Every run under `root` that a process of its own runs or ran, newest first."""
    directory = root / LIVE_DIR
    if not directory.is_dir():
        return []
    channels = sorted(directory.glob("*.ndjson"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [status_of(LiveRun(root, path.name.removesuffix(".ndjson"))) for path in channels]


def running_in_own_process(folder: Path) -> str | None:
    """Why this run folder must not be run now: a process of its own is running it (left going when the studio
    closed), and a second one would work on the same folder. None when it may."""
    resolved = folder.resolve()
    for status in live_runs(resolved.parent):
        if status.liveness == "running" and status.folder is not None and status.folder.resolve() == resolved:
            pid = status.process.pid if status.process else "?"
            return (f"{folder.name} is still running in a process of its own (pid {pid}), left going when the studio "
                    "closed: open the studio to follow it, or wait for it to end")  # fmt: skip
    return None


def starting(live: LiveRun) -> bool:
    """Whether the run's process may still be starting (its job written, not yet taken)."""
    return _age(live.job_file) < STARTING_SECONDS
