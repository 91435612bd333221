"""The running sandbox's parts, shared by every route: config, clock, store, signer, journal, faults, workers."""

from __future__ import annotations

import dataclasses
import secrets

from cdp_poc_studio.sandbox.batch_processor import BatchWorker
from cdp_poc_studio.sandbox.clock import Clock
from cdp_poc_studio.sandbox.config import SandboxConfig
from cdp_poc_studio.sandbox.exports import ExportService
from cdp_poc_studio.sandbox.faults import FaultInjector, FaultRule
from cdp_poc_studio.sandbox.journal import Journal
from cdp_poc_studio.sandbox.s3 import Signer
from cdp_poc_studio.sandbox.store import Store


class Sandbox:
    def __init__(self, config: SandboxConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.store = Store(
            config.db_path, self.clock, nightly=config.snapshot_mode == "nightly", files_dir=config.files_dir
        )
        self.secret = self._signing_secret()
        self.signer = Signer(self.secret, self.clock)
        self.journal = Journal(self.clock)
        self.faults = FaultInjector(self._fresh_faults(), config.seed)
        self.batches = BatchWorker(self)
        self.exports = ExportService(self)
        self._started = False

    def _signing_secret(self) -> bytes:
        """Persisted with the data, so pre-signed URLs and tokens stay valid across a restart."""
        value = self.store.meta("signing_secret")
        if value is None:
            value = secrets.token_hex(32)
            with self.store.write() as conn:
                self.store.set_meta(conn, "signing_secret", value)
        return bytes.fromhex(value)

    def _fresh_faults(self) -> list[FaultRule]:
        return [dataclasses.replace(rule, fired=0) for rule in self.config.faults]

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.batches.start()

    def close(self) -> None:
        if self._started:
            self.batches.stop()
            self._started = False
        self.store.close()

    def reset(self) -> None:
        """All data gone; clock, faults and journal back to their start state."""
        self.batches.hold(False)
        self.batches.drain(timeout=60)
        self.store.reset()
        self.journal.clear()
        self.faults.set_rules(self._fresh_faults())
        self.clock.reset()
