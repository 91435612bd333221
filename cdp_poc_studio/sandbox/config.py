"""Sandbox settings: address, database, credentials, snapshot mode, faults and limits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cdp_poc_studio.sandbox.faults import FaultRule

DEFAULT_CLIENT_KEY = "sandbox-client-key"
DEFAULT_API_TOKEN = "sandbox-api-token"
DEFAULT_OAUTH_CLIENT_ID = "sandbox-oauth-client"
DEFAULT_OAUTH_CLIENT_SECRET = "sandbox-oauth-secret"
# The audience CDP's token endpoint expects (facts §1.2).
OAUTH_AUDIENCE = "https://api.sitecorecloud.io"

SnapshotMode = Literal["immediate", "nightly"]


@dataclass
class SandboxConfig:
    """Everything the sandbox needs to start. Defaults suit tests and demos on one machine."""

    host: str = "127.0.0.1"
    port: int = 8765
    # ":memory:" means a throwaway database (a file in a temporary folder, removed on stop) so that
    # every code path (WAL, one connection per thread) is the same as with a real file.
    db_path: str = ":memory:"
    client_key: str = DEFAULT_CLIENT_KEY
    api_token: str = DEFAULT_API_TOKEN
    oauth_client_id: str = DEFAULT_OAUTH_CLIENT_ID
    oauth_client_secret: str = DEFAULT_OAUTH_CLIENT_SECRET
    token_ttl_seconds: int = 86_400  # facts §1.2: expires_in 86400
    upload_url_ttl_seconds: int = 3_600  # facts §6.2: presigned upload URL valid one hour
    # Gap: the lifetime of audience export output URLs is not documented; one hour like the batch URLs.
    download_url_ttl_seconds: int = 3_600
    snapshot_mode: SnapshotMode = "immediate"
    faults: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    export_split_size: int = 500_000  # facts §7.1: output files split at 500,000 records
    export_gzip_level: int = 6
    batch_max_bytes: int = 50 * 1024 * 1024  # facts §6.6: at most 50 MB gzipped
    # Inferred (no documented limit): a decompressed batch line longer than this is one failed record in the
    # error log, never held in memory whole.
    batch_max_line_bytes: int = 4 * 1024 * 1024
    # Inferred (no documented limit): the largest REST or admin request body; larger is a 413 with CDP's body.
    max_body_bytes: int = 5 * 1024 * 1024
    batch_history_days: int = 30
    batch_chunk_records: int = 20_000  # records per transaction in the batch worker
    # Parse and validate guest records of the next chunk in a helper process (spawned when the worker starts)
    # while the worker thread writes the current chunk; False keeps all the work in the worker thread.
    batch_prepare_process: bool = True
    # Facts §7.4 (data availability): an audience export carries a guest's last 20 orders by orderedAt, whatever
    # their age (up to 100 items per order, the last 600 guest data extensions).
    export_max_orders: int = 20
    files_dir: Path | None = None  # default: next to the database, or a temporary folder
    # Required by the admin API (/_sandbox/..., header X-Sandbox-Admin-Token) when set; `serve` sets one whenever
    # the sandbox listens beyond loopback.
    admin_token: str | None = None
    # HTTPS with a self-signed certificate made at first start (tls.py); None: plain HTTP.
    tls_dir: Path | None = None

    def replace(self, **changes: object) -> SandboxConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.snapshot_mode not in ("immediate", "nightly"):
            raise ValueError(f"snapshot_mode must be immediate or nightly, not {self.snapshot_mode!r}")
        if self.export_split_size < 1:
            raise ValueError("export_split_size must be at least 1")
