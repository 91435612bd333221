"""The sandbox's admin API (`/_sandbox/...`) as plain blocking calls, for job bodies: health, faults, snapshot."""

from __future__ import annotations

from typing import Any

import httpx


class SandboxAdminError(RuntimeError):
    """The admin API refused a change; the message is the sandbox's own."""


class SandboxAdmin:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        with httpx.Client(base_url=self.base_url, timeout=10.0, transport=self._transport) as http:
            response = http.request(method, f"/_sandbox{path}", json=json)
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

    def faults(self) -> list[dict[str, Any]]:
        return list(self._request("GET", "/faults")["faults"])

    def set_faults(self, specs: list[str]) -> list[dict[str, Any]]:
        """Replace every rule with these compact specs (`status=503,rate=0.1`); raises SandboxAdminError."""
        return list(self._request("PUT", "/faults", json={"faults": specs})["faults"])


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
