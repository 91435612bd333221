"""A run's requests as a replay plan: what the hand-off's Postman collection and load.py send again.

The request log of a run (requests.ndjson, secrets masked) holds every call in order with its body and what came
back. A plan keeps the calls that succeeded (retries and throttled attempts dropped), folds a batch's status
polls into one polling step, and turns everything a fresh target answers differently into variables: refs that
CDP creates are captured from the response that first holds them and put wherever they appear later; batch refs
are fresh UUIDs; upload and export-file URLs are taken from the responses that hand them out; the base URL and
the credentials come from the environment. Each step also records what to check: the status, and the stable
fields of the response as the run saw it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

Folder = Literal["load", "readback", "export"]
Auth = Literal["basic", "bearer", "none", "token"]

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
VARIABLE = re.compile(r"\{\{(\w+)\}\}")
TERMINAL_BATCH = ("success", "error", "corrupted")
# Response fields a fresh target answers differently (identities, times, signed URLs, sizes): never checked.
_VOLATILE = frozenset(
    {
        "ref", "href", "createdAt", "modifiedAt", "firstSeen", "lastSeen", "expireAt", "executionRef",
        "definitionRef", "access_token", "clientKey", "location", "status", "totalSizeKB", "datasetDate",
        "startTime", "endTime", "expiry", "log", "stats", "first", "last", "next", "items", "exports",
        "dataExtensions", "orders", "identifiers",
    }
)  # fmt: skip
_KEPT_HEADERS = ("content-type", "content-md5", "x-amz-server-side-encryption")


@dataclass(slots=True)
class Capture:
    """A variable set from a response: the value at `path` (keys and indexes), its last URL segment if `segment`."""

    variable: str
    path: list[str | int]
    segment: bool = False


@dataclass(slots=True)
class Step:
    name: str
    folder: Folder
    method: str
    url: str
    auth: Auth
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    body_file: str | None = None
    captures: list[Capture] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    items: int | None = None
    poll_batch: str | None = None
    # For a polling step: the batch's final status code in the run (success, or error with rejected records).
    batch_status: str | None = None
    # Fields whose value may be any of several: the step reads one of a list's items by position, and a list's
    # order is not guaranteed, so its item may be any sibling.
    one_of: dict[str, list[Any]] = field(default_factory=dict)
    items_one_of: list[int] = field(default_factory=list)

    def variables(self) -> set[str]:
        text = self.url + (self.body or "")
        return set(VARIABLE.findall(text))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": self.folder,
            "method": self.method,
            "url": self.url,
            "auth": self.auth,
            "status": self.status,
            "headers": self.headers,
            "body": self.body,
            "bodyFile": self.body_file,
            "captures": [{"variable": c.variable, "path": c.path, "segment": c.segment} for c in self.captures],
            "fresh": self.fresh,
            "pollBatch": self.poll_batch,
            "batchStatus": self.batch_status,
        }


@dataclass
class ReplayPlan:
    steps: list[Step]
    base_url: str
    batch_files: dict[str, Path]

    def folder(self, name: Folder) -> list[Step]:
        return [s for s in self.steps if s.folder == name]


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield orjson.loads(line)


class _Names:
    """Variable names by what a ref identifies (guestRef3, orderRef1, ...), and the refs already bound."""

    def __init__(self) -> None:
        self.by_value: dict[str, str] = {}
        # Variables captured by position from a list of several items, with the list's capturing step.
        self.groups: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def bind(self, value: str, kind: str) -> str:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        name = f"{kind}{self._counts[kind]}"
        self.by_value[value] = name
        return name

    def substitute(self, text: str) -> str:
        def variable(match: re.Match[str]) -> str:
            name = self.by_value.get(match.group(0))
            return match.group(0) if name is None else "{{" + name + "}}"

        return UUID.sub(variable, text)


def _kind_of(path: str) -> str:
    """`guestRef` for a ref under /guests, and so on, from the collection the ref belongs to."""
    for segment, kind in (
        ("orderItems", "itemRef"), ("orderContacts", "contactRef"), ("contacts", "contactRef"),
        ("consumers", "consumerRef"), ("extensions", "extensionRef"), ("orders", "orderRef"),
        ("guests", "guestRef"), ("batches", "batchRef"),
    ):  # fmt: skip
        if f"/{segment}" in path:
            return kind
    return "ref"


def build_plan(log: Iterable[Mapping[str, Any]], batch_files: Mapping[str, Path]) -> ReplayPlan:
    """The replay plan of a run's request log; `batch_files` maps each batch file's hex MD5 to its path."""
    entries = [e for e in log if e.get("error") is None and e.get("status") is not None]
    entries = [e for e in entries if e["status"] < 500 and e["status"] != 429]
    entries.sort(key=lambda e: e.get("started_at", 0))
    base = _base_url(entries)
    names = _Names()
    urls: dict[str, str] = {}  # a URL handed out by a response (upload, export file) -> its variable
    last_load = max((i for i, e in enumerate(entries) if _is_load(e, base)), default=-1)
    steps: list[Step] = []
    pending_checksum: str | None = None
    for index, entry in enumerate(entries):
        method, url = entry["method"], entry["url"]
        path = url[len(base) :] if url.startswith(base) else url
        folder: Folder = "load" if index <= last_load else "readback"
        if "/oauth/token" in path or "/audienceExports/" in path or (url in urls and "export" in urls[url]):
            folder = "export"
        response = _json(entry.get("response_body"))
        request_body = entry.get("request_body")
        step = Step(
            name="", folder=folder, method=method, url="", auth="basic", status=entry["status"],
            headers={k: v for k, v in entry.get("request_headers", []) if k.lower() in _KEPT_HEADERS},
        )  # fmt: skip
        if url in urls:
            step.url, step.auth = "{{" + urls[url] + "}}", "none"
            if method == "PUT":
                step.body_file = _batch_file(batch_files, pending_checksum)
                step.name = "Upload the batch file"
            else:
                step.name = "Download an export file"
                step.headers = {}
        elif "/oauth/token" in path:
            step.url, step.auth, step.name = "{{authUrl}}", "token", "OAuth token (client credentials)"
            step.headers = {"content-type": "application/x-www-form-urlencoded"}
            step.body = (
                "client_id={{oauthClientId}}&client_secret={{oauthClientSecret}}"
                "&grant_type=client_credentials&audience=https%3A%2F%2Fapi.sitecorecloud.io"
            )
        else:
            if method == "PUT" and re.fullmatch(r"/v2/batches/" + UUID.pattern, path):
                batch_ref = path.rsplit("/", 1)[1]
                step.fresh.append(names.bind(batch_ref, "batchRef"))
                pending_checksum = _json(request_body or "{}").get("checksum") if request_body else None
            if method == "GET" and re.fullmatch(r"/v2/batches/" + UUID.pattern, path):
                batch_ref = path.rsplit("/", 1)[1]
                if steps and steps[-1].poll_batch == names.by_value.get(batch_ref):
                    steps[-1].status = entry["status"]
                    steps[-1].batch_status = _batch_status(response)
                    continue  # one polling step per batch: the run polled as often as it had to
                step.poll_batch = names.by_value.get(batch_ref)
                step.batch_status = _batch_status(response)
                step.name = "Batch status (polled until finished)"
            step.url = "{{baseUrl}}" + names.substitute(path)
            if request_body is not None:
                step.body = names.substitute(request_body)
            step.auth = "bearer" if "/audienceExports/" in path else "basic"
        step.name = step.name or _name(method, path)
        _add_captures(step, response, path, names, urls)
        if not step.poll_batch:
            step.checks = _checks(response)
        if isinstance(response, dict) and isinstance(response.get("items"), list):
            step.items = len(response["items"])
        steps.append(step)
    _loosen_positional_checks(steps, names)
    return ReplayPlan(steps, base, dict(batch_files))


def _loosen_positional_checks(steps: list[Step], names: _Names) -> None:
    """Steps reading a list's items by position check each field against the values of all the siblings."""
    siblings: dict[tuple[str, str], list[Step]] = {}
    for step in steps:
        groups = {names.groups[v] for v in step.variables() if v in names.groups}
        if groups:
            shape = VARIABLE.sub("{}", step.url)
            siblings.setdefault((min(groups), shape), []).append(step)
    for group in siblings.values():
        counts = sorted({step.items for step in group if step.items is not None})
        if len(counts) > 1:
            for step in group:
                step.items, step.items_one_of = None, counts
        keys = {k for step in group for k in step.checks}
        for key in keys:
            values: list[Any] = []
            for step in group:
                # A sibling without the field (an order paid cash has no cardType) allows it to be absent: None.
                value = step.checks.get(key)
                if value not in values:
                    values.append(value)
            if len(values) > 1:
                for step in group:
                    step.checks.pop(key, None)
                    step.one_of[key] = values


def _base_url(entries: list[Mapping[str, Any]]) -> str:
    for entry in entries:
        parts = urlsplit(entry["url"])
        if parts.path.startswith(("/v2", "/v2.1")):
            return f"{parts.scheme}://{parts.netloc}"
    return ""


def _is_load(entry: Mapping[str, Any], base: str) -> bool:
    path = entry["url"][len(base) :]
    if "/audienceExports/" in path or "/oauth/" in path:
        return False
    return entry["method"] in ("POST", "PUT", "PATCH", "DELETE") or path.startswith("/v2/batches/")


def _json(text: Any) -> Any:
    if not isinstance(text, str) or text[:1] not in ("{", "["):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _batch_status(response: Any) -> str | None:
    status = response.get("status") if isinstance(response, dict) else None
    code = status.get("code") if isinstance(status, dict) else None
    return code if isinstance(code, str) else None


def _batch_file(files: Mapping[str, Path], checksum: str | None) -> str | None:
    if checksum is None or checksum not in files:
        return None
    return f"batches/{files[checksum].name}"


def _name(method: str, path: str) -> str:
    shape = UUID.sub("{ref}", path.split("?", 1)[0])
    return f"{method} {shape}"


def _add_captures(step: Step, response: Any, path: str, names: _Names, urls: dict[str, str]) -> None:
    if not isinstance(response, dict):
        return
    location = response.get("location")
    if isinstance(location, dict) and isinstance(location.get("href"), str):
        variable = f"uploadUrl{len(urls) + 1}"
        urls[location["href"]] = variable
        step.captures.append(Capture(variable, ["location", "href"]))
    for n, export in enumerate(response.get("exports") or []):
        if isinstance(export, dict) and isinstance(export.get("url"), str):
            variable = f"exportUrl{len(urls) + 1}"
            urls[export["url"]] = variable
            step.captures.append(Capture(variable, ["exports", n, "url"]))
    ref = response.get("ref")
    if isinstance(ref, str) and UUID.fullmatch(ref) and ref not in names.by_value:
        step.captures.append(Capture(names.bind(ref, _kind_of(path.split("?", 1)[0])), ["ref"]))
    listed = response.get("items") or []
    first_of_list: str | None = None
    # A step that reads an item picked by position picks its own lists' items among the same siblings.
    inherited = min((names.groups[v] for v in step.variables() if v in names.groups), default=None)
    for n, item in enumerate(listed):
        href = item.get("href") if isinstance(item, dict) else None
        if isinstance(href, str):
            found = UUID.search(href.rsplit("/", 1)[-1])
            if found and found.group(0) not in names.by_value:
                kind = _kind_of("/" + href.rsplit("/", 2)[-2])
                variable = names.bind(found.group(0), kind)
                step.captures.append(Capture(variable, ["items", n, "href"], segment=True))
                if inherited is not None:
                    names.groups[variable] = inherited
                elif len(listed) > 1:
                    first_of_list = first_of_list or variable
                    names.groups[variable] = first_of_list
    for key in ("guest", "order", "orderItem"):
        linked = response.get(key)
        href = linked.get("href") if isinstance(linked, dict) else None
        if isinstance(href, str):
            found = UUID.search(href.rsplit("/", 1)[-1])
            if found and found.group(0) not in names.by_value:
                step.captures.append(Capture(names.bind(found.group(0), key + "Ref"), [key, "href"], segment=True))


def _checks(response: Any) -> dict[str, Any]:
    """The stable top-level values of a response: what a replay must see again."""
    if not isinstance(response, dict):
        return {}
    checks: dict[str, Any] = {}
    for key, value in response.items():
        if key in _VOLATILE or isinstance(value, dict | list):
            continue
        if isinstance(value, str) and (UUID.search(value) or "://" in value or "$CDP" in value or "***" in value):
            continue
        checks[key] = value
        if len(checks) >= 12:
            break
    return checks


def trim(steps: list[Step], limit: int, bound: set[str]) -> list[Step]:
    """At most `limit` steps, dropping any step that needs a variable no earlier kept step sets.

    `bound` holds the variables already set (the environment's and earlier folders'); it is updated.
    """
    kept: list[Step] = []
    for step in steps:
        if len(kept) >= limit:
            break
        if step.variables() - bound - set(step.fresh):
            continue
        kept.append(step)
        bound.update(c.variable for c in step.captures)
        bound.update(step.fresh)
    return kept


ENVIRONMENT_VARIABLES = {"baseUrl", "authUrl", "oauthClientId", "oauthClientSecret", "clientKey", "apiToken"}
