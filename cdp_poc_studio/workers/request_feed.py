"""The request log's entries, recorded on any thread, delivered to the UI thread in batches by a queued signal."""

from __future__ import annotations

import threading
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from cdp_poc_studio.cdp.requestlog import LoggedRequest, RequestLog


class RequestFeed(QObject):
    """Listens to `RequestLog`s and hands their entries to the UI thread.

    The listener runs on whichever thread made the request: it only appends to a bounded buffer and, when the
    buffer was empty, emits one queued `_arrived`; the UI thread then waits `interval_ms` and takes everything
    buffered at once. However fast the requests come, the UI thread sees at most 1000 / `interval_ms` batches a
    second, never one event per request.

    Signals:
        received(list): new entries (LoggedRequest), oldest first, on the UI thread.
    """

    received = Signal(list)
    _arrived = Signal()

    def __init__(self, capacity: int = 5000, interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._lock = threading.Lock()
        self._pending: deque[LoggedRequest] = deque(maxlen=capacity)
        self._signalled = False
        self.dropped = 0
        self._arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)

    def attach(self, log: RequestLog) -> None:
        log.add_listener(self.listen)

    def listen(self, entry: LoggedRequest) -> None:
        """The RequestLog listener: any thread, cheap."""
        with self._lock:
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(entry)
            if self._signalled:
                return
            self._signalled = True
        self._arrived.emit()

    @Slot()
    def _on_arrived(self) -> None:
        if self._timer.interval() <= 0:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Deliver what is buffered now (the queued signal does this; tests may call it directly)."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._signalled = False
        if batch:
            self.received.emit(batch)
