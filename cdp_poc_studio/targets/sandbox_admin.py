"""The embedded sandbox's admin API (`/_sandbox/...`) as plain blocking calls: health, reset, faults, journal,
clock, batch worker, exports.

Qt-free, the one client of that API: for the studio's jobs, the pipeline and the tests alike. A real tenant has no
such API: exports are defined in its own UI there.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx


class SandboxAdminError(RuntimeError):
    """The admin API refused a change; the message is the sandbox's own."""


class SandboxAdmin:
    """`verify`: for a sandbox started with TLS, `ssl.create_default_context(cafile=<its certificate>)`.
    `token`: the admin token, needed when the sandbox was given one (always when it listens beyond loopback)."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        verify: bool | ssl.SSLContext = True,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._verify = verify
        self._headers = {"X-Sandbox-Admin-Token": token} if token else {}

    def _request(self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        with httpx.Client(
            base_url=self.base_url, timeout=120.0, transport=self._transport, verify=self._verify, headers=self._headers
        ) as http:
            response = http.request(method, f"/_sandbox{path}", json=json, params=params)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise SandboxAdminError(str(message))
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/health")
        return result

    def reset(self) -> None:
        """Forget every guest, order, batch and export; faults and the clock go back to their defaults."""
        self._request("POST", "/reset")

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in force, each with how often it has fired."""
        return list(self._request("GET", "/faults")["faults"])

    def set_faults(self, specs: Sequence[str | dict[str, Any]], *, seed: int | None = None) -> list[dict[str, Any]]:
        """Replace every rule with these (compact specs like `status=503,rate=0.1`, or rule objects); a `seed`
        makes the random ones repeatable. Raises SandboxAdminError."""
        body: dict[str, Any] = {"faults": list(specs)}
        if seed is not None:
            body["seed"] = seed
        return list(self._request("PUT", "/faults", json=body)["faults"])

    def clear_faults(self) -> None:
        self._request("DELETE", "/faults")

    def clear_journal(self) -> None:
        self._request("DELETE", "/journal")

    def journal(self, prefix: str | None = None) -> list[dict[str, Any]]:
        """What the sandbox did with each request (optionally only paths starting with `prefix`)."""
        return list(self._request("GET", "/journal", params={"prefix": prefix} if prefix else None)["entries"])

    def now(self) -> datetime:
        """The sandbox's clock, which judges the nightly snapshot (tests and demos can move it)."""
        return datetime.fromisoformat(str(self._request("GET", "/clock")["now"]).replace("Z", "+00:00"))

    def set_clock(self, now: datetime) -> None:
        self._request("POST", "/clock", json={"now": now.isoformat().replace("+00:00", "Z")})

    def advance_clock(self, seconds: float) -> None:
        self._request("POST", "/clock", json={"advanceSeconds": seconds})

    def put_export(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Create the export definition, or update the one with the same friendlyId."""
        friendly_id = definition["friendlyId"]
        known = {d.get("friendlyId") for d in self._request("GET", "/exports")["definitions"]}
        if friendly_id in known:
            patch = {k: v for k, v in definition.items() if k != "friendlyId"}
            result: dict[str, Any] = self._request("PATCH", f"/exports/{friendly_id}", json=patch)
        else:
            result = self._request("POST", "/exports", json=definition)
        return result

    def run_export(self, friendly_id: str) -> dict[str, Any]:
        """Run the export now; answers with the finished job's execution report."""
        result: dict[str, Any] = self._request("POST", f"/exports/{friendly_id}/run")
        return result

    def drain_batches(self, timeout: float = 60.0) -> None:
        """Wait until the batch worker has processed every uploaded file."""
        self._request("POST", "/batches/drain", params={"timeout": timeout})

    def hold_batches(self) -> None:
        """Keep uploaded files unprocessed until released or drained (to watch a batch in `processing`)."""
        self._request("POST", "/batches/hold")

    def release_batches(self) -> None:
        self._request("POST", "/batches/release")


def describe_fault(rule: dict[str, Any]) -> str:
    """A rule as the compact spec a user would type."""
    parts: list[str] = []
    action = rule.get("action")
    if action == "status":
        parts.append(f"status={rule.get('status')}")
    elif action:
        parts.append(str(action))
    if rule.get("latency_ms"):
        parts.append(f"latency={rule['latency_ms']}ms")
    if rule.get("rate", 1.0) != 1.0:
        parts.append(f"rate={rule['rate']:g}")
    upload = action in ("expire_upload", "corrupt_upload")
    if rule.get("path", "*") != ("/_s3/*" if upload else "*"):
        parts.append(f"path={rule['path']}")
    if rule.get("method"):
        parts.append(f"method={rule['method']}")
    retry_after = rule.get("retry_after")
    if retry_after is not None and not (rule.get("status") in (429, 503) and retry_after == 1):
        parts.append(f"retry_after={retry_after}")
    if rule.get("phase", "before") != "before":
        parts.append(f"phase={rule['phase']}")
    if rule.get("count") is not None:
        parts.append(f"count={rule['count']}")
    return ",".join(parts)
