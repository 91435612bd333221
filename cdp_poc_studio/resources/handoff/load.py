#!/usr/bin/env python3
"""Load a CDP PoC Studio run's data into a Sitecore CDP tenant (or the embedded sandbox), as the PoC did.

Standalone: Python 3.9+ and httpx (`pip install httpx`), nothing else. It replays the load of the PoC run
through the same integration point: the batch files beside it (allocate, upload to the pre-signed URL, poll until
CDP has processed each one, one file at a time as Sitecore advises), or the Guest and Order REST requests in the
order the run sent them, with the refs CDP creates carried from each response into the requests that need them.

    export CDP_BASE_URL=https://api-engage-eu.sitecorecloud.io   # or the embedded sandbox's URL
    export CDP_CLIENT_KEY=...  CDP_API_TOKEN=...                   # never written to any file
    python load.py                     # plan: load/plan.json; progress: load/progress.json

Throttled (429) and failed (5xx, dropped connection) requests are retried with backoff, honouring Retry-After.
Progress is saved after every step, so an interrupted load resumes where it stopped (`--restart` starts over).
Against a tenant that already holds this data, REST creates make duplicates: load into a fresh one.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
VARIABLE = re.compile(r"\{\{(\w+)\}\}")
TERMINAL = ("success", "error", "corrupted")
RETRIES = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", type=Path, default=HERE / "load" / "plan.json")
    parser.add_argument("--progress", type=Path, default=HERE / "load" / "progress.json")
    parser.add_argument("--restart", action="store_true", help="ignore saved progress and load from the start")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="wait between batch status polls")
    args = parser.parse_args(argv)

    missing = [name for name in ("CDP_BASE_URL", "CDP_CLIENT_KEY", "CDP_API_TOKEN") if not os.environ.get(name)]
    if missing:
        print(f"Set {', '.join(missing)} in the environment (the target and its API access, never a file).")
        return 2
    plan = json.loads(args.plan.read_text(encoding="utf-8"))
    steps = plan["steps"]
    state: dict[str, Any] = {"next": 0, "variables": {}}
    if args.progress.is_file() and not args.restart:
        state = json.loads(args.progress.read_text(encoding="utf-8"))
        print(f"Resuming at step {state['next'] + 1} of {len(steps)} ({args.progress}).")
    variables = dict(state["variables"])
    variables["baseUrl"] = os.environ["CDP_BASE_URL"].rstrip("/")
    auth = httpx.BasicAuth(os.environ["CDP_CLIENT_KEY"], os.environ["CDP_API_TOKEN"])
    started = time.monotonic()
    with httpx.Client(timeout=120, headers={"Accept": "application/json"}) as http:
        for index in range(state["next"], len(steps)):
            step = steps[index]
            for name in step.get("fresh") or []:
                variables[name] = str(uuid.uuid4())
            response = send(http, step, variables, auth, plan_dir=args.plan.parent)
            if step.get("pollBatch"):
                response = poll(http, step, variables, auth, response, args.poll_seconds)
            capture(step, response, variables)
            save(args.progress, index + 1, variables)
            if (index + 1) % 100 == 0 or index + 1 == len(steps):
                rate = (index + 1 - state["next"]) / max(time.monotonic() - started, 1e-9)
                print(f"{index + 1}/{len(steps)} steps ({rate:.1f}/s)", flush=True)
    print(f"Loaded: {len(steps)} steps done. Progress kept in {args.progress}.")
    return 0


def fill(text: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise SystemExit(f"step needs {{{{{name}}}}}, which no earlier response set: restart with --restart")
        return variables[name]

    return VARIABLE.sub(value, text)


def send(
    http: httpx.Client, step: dict[str, Any], variables: dict[str, str], auth: httpx.Auth, plan_dir: Path
) -> httpx.Response:
    url = fill(step["url"], variables)
    headers = dict(step.get("headers") or {})
    content: bytes | None = None
    if step.get("bodyFile"):
        content = (plan_dir.parent / step["bodyFile"]).read_bytes()
    elif step.get("body") is not None:
        content = fill(step["body"], variables).encode("utf-8")
        headers.setdefault("content-type", "application/json")
    use_auth = auth if step["auth"] == "basic" else None
    for attempt in range(RETRIES + 1):
        try:
            response = http.request(step["method"], url, content=content, headers=headers, auth=use_auth)
        except httpx.TransportError as exc:
            if attempt == RETRIES:
                raise SystemExit(f"{step['name']}: {exc}; rerun to resume") from None
            backoff(attempt, None)
            continue
        if response.status_code == 429 or response.status_code >= 500:
            if attempt == RETRIES:
                raise SystemExit(f"{step['name']}: HTTP {response.status_code} after {RETRIES} retries; rerun")
            backoff(attempt, response.headers.get("retry-after"))
            continue
        both_ok = 200 <= response.status_code < 300 and 200 <= step["status"] < 300
        if response.status_code != step["status"] and not both_ok:
            raise SystemExit(
                f"{step['name']}: HTTP {response.status_code} where the PoC run had {step['status']}: "
                f"{response.text[:300]}"
            )
        return response
    raise AssertionError("unreachable")


def poll(
    http: httpx.Client,
    step: dict[str, Any],
    variables: dict[str, str],
    auth: httpx.Auth,
    response: httpx.Response,
    seconds: float,
) -> httpx.Response:
    """Poll a batch's status until CDP has processed it (uploading -> processing -> success or error)."""
    while (response.json().get("status") or {}).get("code") not in TERMINAL:
        time.sleep(seconds)
        response = send(http, step, variables, auth, plan_dir=Path("."))
    code = response.json()["status"]["code"]
    if code != (step.get("batchStatus") or "success"):
        print(f"warning: batch {response.json().get('ref')} finished {code}; the PoC run had {step.get('batchStatus')}")
    return response


def capture(step: dict[str, Any], response: httpx.Response, variables: dict[str, str]) -> None:
    if not step.get("captures"):
        return
    body = response.json()
    for item in step["captures"]:
        value: Any = body
        for part in item["path"]:
            value = value[part]
        text = str(value)
        variables[item["variable"]] = text.split("?")[0].rsplit("/", 1)[-1] if item["segment"] else text


def backoff(attempt: int, retry_after: str | None) -> None:
    try:
        wait = float(retry_after) if retry_after else min(30.0, 0.5 * 2**attempt)
    except ValueError:
        wait = min(30.0, 0.5 * 2**attempt)
    time.sleep(wait + random.uniform(0, 0.25))


def save(path: Path, next_step: int, variables: dict[str, str]) -> None:
    kept = {k: v for k, v in variables.items() if k != "baseUrl"}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"next": next_step, "variables": kept}), encoding="utf-8")
    temporary.replace(path)


if __name__ == "__main__":
    sys.exit(main())
