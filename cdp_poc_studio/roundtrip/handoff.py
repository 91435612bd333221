"""The hand-off: what the customer's developers get from a PoC run, runnable without this studio.

    DIR/postman/collection.json   the run's requests as a Postman v2.1 collection, with tests
    DIR/postman/environment.json  base URL and empty slots for the secrets
    DIR/load.py                   a standalone httpx script that performs the run's load again
    DIR/load/plan.json            the load steps load.py follows
    DIR/batches/                  the run's batch files (batch loads)
    DIR/decisions/, DIR/sql/      the nested-data snippets (roundtrip.snippets)
    DIR/README.md                 what each file is and how to run it

No file holds a secret: the request log is masked, and credentials come from the environment at run time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

# The sandbox's export definition for a scenario, exactly as the pipeline creates it before pulling the export.
from cdp_poc_studio.roundtrip.pipeline import _sandbox_definition as sandbox_definition
from cdp_poc_studio.roundtrip.postman import collection, environment, sandbox_export_steps
from cdp_poc_studio.roundtrip.replay import ENVIRONMENT_VARIABLES, build_plan, read_log, trim
from cdp_poc_studio.roundtrip.run_folder import RunFolder
from cdp_poc_studio.roundtrip.scenario import load_scenario
from cdp_poc_studio.roundtrip.snippets import write_snippets

# Postman runs every request it holds: keep the collection to a size a person can open and newman can run.
POSTMAN_LOAD_STEPS = 1_500
POSTMAN_READBACK_STEPS = 1_000
SANDBOX_AUTH_PATH = "/oauth/token"
TENANT_AUTH_URL = "https://auth.sitecorecloud.io/oauth/token"


class HandoffError(ValueError):
    """A run folder that cannot be handed off, and what to do."""


@dataclass
class Handoff:
    out: Path
    load_steps: int
    postman_requests: int
    snippets: int
    batch_files: int
    trimmed: bool


def write_handoff(run: Path, out: Path) -> Handoff:
    folder = RunFolder(run)
    if not folder.exists():
        raise HandoffError(f"{run} is not a run folder (no run.json and scenario.toml): pass a folder under runs/")
    state = folder.load_state()
    if not state.done("send"):
        raise HandoffError(f"{run}: the run has not finished sending; resume it first (cdp-poc-studio resume {run})")
    scenario = load_scenario(folder.scenario)
    schema = scenario.resolved_schema(folder.path)
    out.mkdir(parents=True, exist_ok=True)

    batches = {_md5(path): path for path in sorted(folder.batches.glob("*.gz"))} if folder.batches.is_dir() else {}
    plan = build_plan(read_log(folder.requests), batches)
    load = plan.folder("load")
    if not load:
        raise HandoffError(f"{run}: its request log holds no load requests (requests.ndjson is missing or empty)")
    if batches:
        (out / "batches").mkdir(exist_ok=True)
        for path in batches.values():
            shutil.copy2(path, out / "batches" / path.name)

    (out / "load").mkdir(exist_ok=True)
    document = {"run": state.run_id, "scenario": scenario.name, "load": scenario.integration.load}
    (out / "load" / "plan.json").write_text(
        json.dumps({**document, "steps": [s.to_json() for s in load]}, indent=1) + "\n", encoding="utf-8"
    )
    script = files("cdp_poc_studio.resources").joinpath("handoff/load.py").read_text(encoding="utf-8")
    (out / "load.py").write_text(script, encoding="utf-8")

    bound = set(ENVIRONMENT_VARIABLES)
    folders = {
        "load": trim(load, POSTMAN_LOAD_STEPS, bound),
        "readback": trim(plan.folder("readback"), POSTMAN_READBACK_STEPS, bound),
        "export": trim(plan.folder("export"), 100, bound | {"accessToken"}),
    }
    trimmed = sum(len(v) for v in folders.values()) < len(plan.steps)
    sandbox = state.target_kind == "sandbox"
    title = f"CDP PoC Studio: {scenario.name} ({state.run_id})"
    description = (
        f"The requests of PoC run {state.run_id} ({scenario.integration.load} load of {scenario.generator.guests} "
        "guests), with tests that check each status and the fields the run saw. Secrets come from the environment."
    )
    setup = sandbox_export_steps(sandbox_definition(scenario, schema)) if sandbox else []
    (out / "postman").mkdir(exist_ok=True)
    (out / "postman" / "collection.json").write_text(
        json.dumps(collection(title, description, folders, sandbox_setup=setup), indent=1) + "\n", encoding="utf-8"
    )
    base = plan.base_url if sandbox else plan.base_url or "https://api-engage-eu.sitecorecloud.io"
    auth_url = base + SANDBOX_AUTH_PATH if sandbox else TENANT_AUTH_URL
    (out / "postman" / "environment.json").write_text(
        json.dumps(environment(title, base, auth_url), indent=1) + "\n", encoding="utf-8"
    )

    snippets = write_snippets(schema, out / "snippets-all")
    for kind in ("decisions", "templates", "export"):
        source = out / "snippets-all" / kind
        if source.is_dir():
            shutil.copytree(source, out / "decisions" / kind, dirs_exist_ok=True)
    if (out / "snippets-all" / "sql").is_dir():
        shutil.copytree(out / "snippets-all" / "sql", out / "sql", dirs_exist_ok=True)
    if (out / "snippets-all" / "index.json").is_file():
        shutil.copy2(out / "snippets-all" / "index.json", out / "decisions" / "index.json")
    shutil.rmtree(out / "snippets-all")

    result = Handoff(
        out=out,
        load_steps=len(load),
        postman_requests=sum(len(v) for v in folders.values()) + (len(setup) if folders["export"] else 0),
        snippets=len(snippets),
        batch_files=len(batches),
        trimmed=trimmed,
    )
    (out / "README.md").write_text(_readme(scenario.name, state.run_id, scenario.integration.load, result, sandbox))
    return result


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _readme(name: str, run_id: str, load: str, handoff: Handoff, sandbox: bool) -> str:
    trimmed = (
        "\nThe collection holds the first requests of each stage (a full run would be too many to open); "
        "load.py holds the whole load.\n"
        if handoff.trimmed
        else ""
    )
    batches = (
        f"- `batches/`: the {handoff.batch_files} gzipped batch file(s) the run uploaded, unchanged."
        if handoff.batch_files
        else ""
    )
    sandbox_note = (
        "The run went to the embedded sandbox: folder 3 defines and runs the audience export through the sandbox's "
        "admin API. Against a tenant, define the export in CDP (Audience export) and leave folder 3 out.\n"
        if sandbox
        else ""
    )
    return f"""# Hand-off: {name} (PoC run {run_id})

Everything here runs without CDP PoC Studio. No file holds a secret: set the credentials in the environment.

## What each file is

- `postman/collection.json`: the run's requests as a Postman collection (v2.1), {handoff.postman_requests} requests
  in folders: 1 Load, 2 Read back, 3 Embedded sandbox only, 4 Audience export. Basic auth from the variables
  `clientKey` and `apiToken`, the base URL from `baseUrl`; the audience export folder first fetches an OAuth token
  (`oauthClientId`, `oauthClientSecret`, `authUrl`). Each request's tests check the status and the fields the PoC
  run saw, and carry the refs CDP creates into the requests that need them.
- `postman/environment.json`: `baseUrl`, `authUrl`, and empty slots for the four secrets.
- `load.py`: a standalone Python script (httpx only) that performs the run's {load} load again through the same
  integration point, {handoff.load_steps} steps, with retries (429 with Retry-After, 5xx, dropped connections) and
  a resumable progress file.
- `load/plan.json`: the load steps load.py follows (the run's requests, secrets masked, refs as variables).
{batches}
- `decisions/decisions/`: Sitecore Personalize programmable decisions for each nested field: a Map that rebuilds
  the nested value, and one accessor per leaf (String, Boolean, Integer, Long or Date). ES5, one immediately
  invoked function over `guest`; paste into a decision model variant and set the return type named in its header.
- `decisions/templates/`: the same as decision templates, with form placeholders for the group, key and list index.
- `decisions/export/`: audience export Advanced-mode snippets whose output record carries the nested value.
- `decisions/index.json`: every snippet with its kind, field, leaf and return type.
- `sql/`: Athena/Presto SQL over the data lake export's guests (and orders) entity, the nested value as JSON and
  one typed column per leaf.
{trimmed}
## Run the collection

    npm install -g newman
    newman run postman/collection.json -e postman/environment.json --working-dir . \\
      --env-var baseUrl=$CDP_BASE_URL --env-var clientKey=$CDP_CLIENT_KEY --env-var apiToken=$CDP_API_TOKEN \\
      --env-var oauthClientId=$CDP_OAUTH_CLIENT_ID --env-var oauthClientSecret=$CDP_OAUTH_CLIENT_SECRET

{sandbox_note}Run it against a fresh tenant or sandbox: REST creates make new guests every time.

## Load the data again

    pip install httpx
    export CDP_BASE_URL=...  CDP_CLIENT_KEY=...  CDP_API_TOKEN=...
    python load.py              # resumes from load/progress.json if interrupted; --restart starts over

The Personalize and SQL snippets mark with [INF] what Sitecore's documentation leaves open (for example that a
guest's orders carry `dataExtensions` in a decision, or that each extension group is a map column in the data lake).
"""
