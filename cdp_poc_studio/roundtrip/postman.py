"""A replay plan as a Postman collection (v2.1) and its environment: runnable in Postman or with newman.

Basic auth (`{{clientKey}}`, `{{apiToken}}`) is set on the collection; the audience export folder fetches an
OAuth token first (newman does not run Postman's OAuth 2.0 helper, so the token request is a step) and sends it
as a bearer token. Every request's tests check the status and the stable fields the PoC run saw, and capture the
refs and URLs that later requests need. The environment holds no secret, only empty slots for them.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cdp_poc_studio.roundtrip.replay import TERMINAL_BATCH, Capture, Step

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
POLL_ATTEMPTS = 240
POLL_WAIT_MS = 500

FOLDER_TITLES = {
    "load": "1 Load (the run's requests, in order)",
    "readback": "2 Read back through REST",
    "sandbox": "3 Embedded sandbox only: define and run the audience export",
    "export": "4 Audience export (OAuth)",
}


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _capture_line(capture: Capture) -> str:
    path = capture.path
    if len(path) == 3 and path[0] == "items" and isinstance(path[1], int):
        # An item picked by position: a list's order is not guaranteed, nor (then) its length; keep a real item.
        items = "(json.items || [])"
        expression = f"({items}[{path[1]}] || {items}[{items}.length - 1] || {{}})[{_js(path[2])}]"
    else:
        expression = "json" + "".join(f"[{_js(part)}]" for part in path)
    if capture.segment:
        expression = f"String({expression}).split('?')[0].split('/').pop()"
    return f"pm.collectionVariables.set({_js(capture.variable)}, {expression});"


def _tests(step: Step, name: str) -> list[str]:
    lines = ["var json = {};", "try { json = pm.response.json(); } catch (e) { json = {}; }"]
    if step.poll_batch:
        counter = f"polls_{step.poll_batch}"
        terminal = _js(list(TERMINAL_BATCH))
        expected = step.batch_status or "success"
        lines += [
            "var code = json.status ? json.status.code : undefined;",
            f"var polls = Number(pm.collectionVariables.get({_js(counter)}) || 0) + 1;",
            f"pm.collectionVariables.set({_js(counter)}, polls);",
            f"if ({terminal}.indexOf(code) < 0 && polls < {POLL_ATTEMPTS}) {{",
            f"    setTimeout(function () {{}}, {POLL_WAIT_MS});",
            f"    postman.setNextRequest({_js(name)});",
            "} else {",
            f"    pm.collectionVariables.unset({_js(counter)});",
            f"    pm.test('status {step.status}', function () {{ pm.response.to.have.status({step.status}); }});",
            f"    pm.test('the batch finished with {expected}, as in the PoC run', function () {{",
            f"        pm.expect(code).to.eql({_js(expected)});",
            "    });",
            "}",
        ]
        return lines
    lines.append(f"pm.test('status {step.status}', function () {{ pm.response.to.have.status({step.status}); }});")
    if step.checks:
        lines.append("pm.test('key fields as the PoC run saw them', function () {")
        for key, value in step.checks.items():
            lines.append(f"    pm.expect(json[{_js(key)}]).to.eql({_js(value)});")
        lines.append("});")
    if step.one_of:
        lines.append("pm.test('fields among the values of its list (list order is not guaranteed)', function () {")
        for key, values in step.one_of.items():
            lines.append(
                f"    pm.expect({_js(values)}).to.include(json[{_js(key)}] === undefined ? null : json[{_js(key)}]);"
            )
        lines.append("});")
    if step.items_one_of:
        lines += [
            "pm.test('as many items as one of its siblings (list order is not guaranteed)', function () {",
            f"    pm.expect({_js(step.items_one_of)}).to.include((json.items || []).length);",
            "});",
        ]
    if step.items is not None:
        lines += [
            f"pm.test('{step.items} item(s), as in the PoC run', function () {{",
            f"    pm.expect((json.items || []).length).to.eql({step.items});",
            "});",
        ]
    lines += [_capture_line(c) for c in step.captures]
    if step.auth == "token":
        lines.append("pm.collectionVariables.set('accessToken', json.access_token);")
    return lines


def _request(step: Step, name: str) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": step.method,
        "header": [{"key": k, "value": v} for k, v in step.headers.items()],
        "url": step.url,
    }
    if step.auth in ("none", "token"):
        request["auth"] = {"type": "noauth"}
    if step.body_file is not None:
        request["body"] = {"mode": "file", "file": {"src": step.body_file}}
    elif step.body is not None:
        request["body"] = {"mode": "raw", "raw": step.body}
        if step.body[:1] in ("{", "["):
            request["body"]["options"] = {"raw": {"language": "json"}}
            if not any(k.lower() == "content-type" for k in step.headers):
                request["header"].append({"key": "Content-Type", "value": "application/json"})
    item: dict[str, Any] = {
        "name": name,
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": _tests(step, name)}}],
        "request": request,
    }
    if step.fresh:
        exec_lines = [
            f"pm.collectionVariables.set({_js(v)}, pm.variables.replaceIn('{{{{$guid}}}}'));" for v in step.fresh
        ]
        item["event"].insert(0, {"listen": "prerequest", "script": {"type": "text/javascript", "exec": exec_lines}})
    return item


def _folder(key: str, steps: list[Step], counter: list[int], description: str = "") -> dict[str, Any]:
    items = []
    for step in steps:
        counter[0] += 1
        items.append(_request(step, f"{counter[0]:04d} {step.name}"))
    folder: dict[str, Any] = {"name": FOLDER_TITLES[key], "item": items}
    if description:
        folder["description"] = description
    if key == "export":
        folder["auth"] = {"type": "bearer", "bearer": [{"key": "token", "value": "{{accessToken}}", "type": "string"}]}
    return folder


def sandbox_export_steps(definition: dict[str, Any]) -> list[Step]:
    """The sandbox's admin calls that define the scenario's audience export and run it (a tenant has it already)."""
    friendly_id = definition["friendlyId"]
    return [
        Step(
            name="Define the audience export (sandbox admin API)", folder="export", method="POST",
            url="{{baseUrl}}/_sandbox/exports", auth="none", status=201, body=json.dumps(definition),
            headers={"content-type": "application/json"},
        ),
        Step(
            name="Run the audience export now (sandbox admin API)", folder="export", method="POST",
            url=f"{{{{baseUrl}}}}/_sandbox/exports/{friendly_id}/run", auth="none", status=200,
        ),
    ]  # fmt: skip


def collection(
    name: str, description: str, folders: dict[str, list[Step]], *, sandbox_setup: list[Step]
) -> dict[str, Any]:
    counter = [0]
    items = [
        _folder("load", folders["load"], counter),
        _folder("readback", folders["readback"], counter),
    ]
    if sandbox_setup and folders["export"]:
        items.append(
            _folder(
                "sandbox",
                sandbox_setup,
                counter,
                "Only for the embedded sandbox: a tenant has its export defined in CDP (Audience export). "
                "Against a tenant, run the other folders (newman --folder).",
            )
        )
    if folders["export"]:
        items.append(_folder("export", folders["export"], counter))
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "cdp-poc-studio/" + name)),
            "name": name,
            "description": description,
            "schema": SCHEMA,
        },
        "auth": {
            "type": "basic",
            "basic": [
                {"key": "username", "value": "{{clientKey}}", "type": "string"},
                {"key": "password", "value": "{{apiToken}}", "type": "string"},
            ],
        },
        "item": [i for i in items if i["item"]],
        "variable": [{"key": "accessToken", "value": ""}],
    }


def environment(name: str, base_url: str, auth_url: str) -> dict[str, Any]:
    """The environment: where to send, and empty slots for the secrets (set them in Postman or with --env-var)."""
    values = [
        ("baseUrl", base_url, "default"),
        ("authUrl", auth_url, "default"),
        ("clientKey", "", "secret"),
        ("apiToken", "", "secret"),
        ("oauthClientId", "", "secret"),
        ("oauthClientSecret", "", "secret"),
    ]
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "cdp-poc-studio-env/" + name)),
        "name": name,
        "values": [{"key": k, "value": v, "type": t, "enabled": True} for k, v, t in values],
        "_postman_variable_scope": "environment",
    }
