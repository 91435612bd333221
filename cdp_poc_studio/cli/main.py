"""The command line: thin commands that call the packages below."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cdp_poc_studio import __version__

if TYPE_CHECKING:
    from cdp_poc_studio.cdp.secrets import SecretName
    from cdp_poc_studio.domain.schema import ExtensionSchema
    from cdp_poc_studio.roundtrip.pipeline import Pipeline
    from cdp_poc_studio.roundtrip.report_model import RunReport
    from cdp_poc_studio.roundtrip.run_folder import RunFolder, RunState
    from cdp_poc_studio.roundtrip.scenario import Scenario
    from cdp_poc_studio.targets.target import Target


class ConfigError(click.ClickException):
    """Bad usage or configuration: exit code 2, as for a usage error, with a message that says what to do."""

    exit_code = 2


class _StudioGroup(click.Group):
    """`cdp-poc-studio FILE.toml` opens the file in the studio, as `cdp-poc-studio gui FILE.toml` does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0].lower().endswith(".toml"):
            args = ["gui", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_StudioGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="cdp-poc-studio")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """CDP PoC Studio: generate, send, export and verify Sitecore CDP data, end to end.

    Without a command, opens the studio window (as `cdp-poc-studio gui`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(gui_command)


@cli.command("gui")
@click.argument("scenario", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--autoplay",
    "autoplay",
    metavar="SCENARIO",
    help="Play the whole loop in the window on its own, on a fresh embedded sandbox: a scenario file or the name "
    "of a bundled one (retail_loyalty).",
)
@click.option(
    "--screenshots",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --autoplay: save a PNG of each page in this folder as it goes.",
)
@click.option(
    "--exit-when-done",
    is_flag=True,
    help="With --autoplay: quit at the end with the exit code of `cdp-poc-studio run` (0 passed, 1 failed).",
)
@click.option(
    "--pace",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="With --autoplay: seconds to stay on each page.",
)
def gui_command(
    scenario: Path | None = None,
    autoplay: str | None = None,
    screenshots: Path | None = None,
    exit_when_done: bool = False,
    pace: float = 3.0,
) -> None:
    """Open the studio window, optionally on a scenario file, or play the demo with --autoplay."""
    # Imported here so that the other commands never load Qt.
    from cdp_poc_studio.app import display_problem

    problem = display_problem()
    if problem:
        click.echo(problem, err=True)
        raise SystemExit(2)
    if autoplay is None and (screenshots is not None or exit_when_done):
        raise ConfigError("--screenshots and --exit-when-done go with --autoplay SCENARIO")
    if autoplay is not None:
        from cdp_poc_studio.ui.autoplay import resolve_scenario

        if resolve_scenario(autoplay) is None:
            raise ConfigError(f"--autoplay {autoplay!r}: no such scenario file or bundled scenario")
    from cdp_poc_studio.app import run_gui

    raise SystemExit(
        run_gui(scenario, autoplay=autoplay, screenshots=screenshots, exit_when_done=exit_when_done, pace=pace)
    )


@cli.command("generate")
@click.option("--guests", type=click.IntRange(min=0), default=100, show_default=True, help="How many guests.")
@click.option(
    "--orders",
    "orders",
    default="poisson:1.5",
    show_default=True,
    help="Orders per guest: fixed:N, uniform:LOW-HIGH or poisson:MEAN.",
)
@click.option("--items", "items", default="uniform:1-3", show_default=True, help="Items per order, likewise.")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="The same seed gives the same file.",
)
@click.option(
    "--locale",
    "locales",
    multiple=True,
    default=["en_US"],
    show_default=True,
    help="Faker locale; repeat for several.",
)
@click.option(
    "--schema",
    "schema_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Extension schema file (TOML or JSON); see cdp_poc_studio/resources/schemas/.",
)
@click.option(
    "--flatten",
    type=click.Choice(["prefix", "json"]),
    help="Flattening for nested fields that do not choose their own.",
)
@click.option("--identifier-provider", default="POC_STUDIO", show_default=True)
@click.option("--run-tag", help="Tag in every identifier and order reference (default: poc<SEED>).")
@click.option(
    "--max-file-mb",
    type=click.FloatRange(min=2, max=50),
    default=50,
    show_default=True,
    help="Split files before they reach this compressed size.",
)
@click.option("--compresslevel", type=click.IntRange(1, 9), default=6, show_default=True)
@click.option("--lint/--no-lint", default=True, show_default=True, help="Check every record against CDP's rules.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("out/batch.json.gz"),
    show_default=True,
    help="Output file; split files are numbered -001, -002, ...",
)
def generate_command(
    guests: int,
    orders: str,
    items: str,
    seed: int,
    locales: tuple[str, ...],
    schema_path: Path | None,
    flatten: str | None,
    identifier_provider: str,
    run_tag: str | None,
    max_file_mb: float,
    compresslevel: int,
    lint: bool,
    out: Path,
) -> None:
    """Generate a gzipped CDP batch file of guests and orders with nested extensions."""
    from pydantic import ValidationError

    from cdp_poc_studio.cdp.batchfile import BatchFileWriter
    from cdp_poc_studio.domain.lint import lint_record
    from cdp_poc_studio.domain.schema import ExtensionSchema
    from cdp_poc_studio.domain.schema_check import check_schema, serialised_fields
    from cdp_poc_studio.domain.schema_file import SchemaFileError, load_schema
    from cdp_poc_studio.generator.records import Generator
    from cdp_poc_studio.generator.settings import GeneratorSettings
    from cdp_poc_studio.generator.values import SchemaValueError

    try:
        settings = GeneratorSettings(
            seed=seed,
            guests=guests,
            locales=list(locales),
            orders_per_guest=orders,
            items_per_order=items,
            identifier_provider=identifier_provider,
            run_tag=run_tag,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"impossible settings: {problems}") from None
    try:
        schema = load_schema(schema_path) if schema_path else ExtensionSchema()
    except SchemaFileError as exc:
        raise ConfigError(f"bad schema file {exc}") from None
    if flatten:
        schema = schema.model_copy(update={"default_flatten": flatten})
    violations = check_schema(schema)
    if violations:
        listing = "\n".join(f"  {v}" for v in violations)
        raise ConfigError(f"the schema {schema_path} breaks CDP's rules:\n{listing}")
    try:
        generator = Generator(settings, schema)
    except SchemaValueError as exc:
        raise ConfigError(f"bad schema file {schema_path}: {exc}") from None

    stem = out.name.removesuffix(".gz").removesuffix(".json")
    findings = 0
    try:
        with BatchFileWriter(
            out.parent, stem, max_bytes=int(max_file_mb * 1024 * 1024), compresslevel=compresslevel
        ) as writer:
            for guest in generator.guests():
                for record in guest.records():
                    if lint:
                        for violation in lint_record(record, "batch"):
                            findings += 1
                            if findings <= 10:
                                click.echo(f"lint: guest {guest.seq}: {violation}", err=True)
                    writer.write(record)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}; choose another --out") from None
    files = writer.files
    if len(files) == 1:
        # One file needs no number: give it exactly the name asked for.
        files[0].path.replace(out)
        files = [dataclasses.replace(files[0], path=out)]
    total = sum(f.records for f in files)
    click.echo(
        f"Wrote {total:,} records ({guests:,} guests and their orders) in {len(files)} file(s), "
        f"seed {seed}, run tag {generator.run_tag}:"
    )
    for f in files:
        click.echo(f"  {f.path}  {f.records:,} records  {f.size:,} bytes  md5 {f.md5_hex}")
    for path in serialised_fields(schema):
        click.echo(f"Note: {path} reaches CDP as one JSON string; segments must unpack it with custom code.")
    if findings:
        raise click.ClickException(f"{findings} lint finding(s) in the generated records; see above")


@cli.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option(
    "--db", "db_path", default=None, help="SQLite file (default: in the user data folder); ':memory:' allowed."
)
@click.option("--client-key", default=None, help="Basic auth user for REST and Batch.")
@click.option("--api-token", default=None, help="Basic auth password for REST and Batch.")
@click.option("--oauth-client-id", default=None, help="OAuth client id for the audience export API.")
@click.option("--oauth-client-secret", default=None, help="OAuth client secret for the audience export API.")
@click.option(
    "--snapshot",
    type=click.Choice(["immediate", "nightly"]),
    default="immediate",
    show_default=True,
    help="When written data becomes visible to segments: at once, or after the next midnight UTC.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help='Fault rule, repeatable: "status=503,rate=0.1,path=/v2.1/*", "latency=50ms", "drop,rate=0.02".',
)
@click.option("--seed", type=int, default=None, help="Seed of the fault injection's random choices.")
@click.option(
    "--tls",
    is_flag=True,
    help="Serve HTTPS with a self-signed certificate (made at first start beside the database; its path is printed).",
)
@click.option(
    "--admin-token",
    envvar="CDP_SANDBOX_ADMIN_TOKEN",
    default=None,
    help="Token the admin API (/_sandbox) requires in X-Sandbox-Admin-Token (made for you beyond loopback).",
)
@click.option(
    "--export-definition",
    "export_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file with an audience export definition (or a list of them) to create at start.",
)
def sandbox_command(
    host: str,
    port: int,
    db_path: str | None,
    client_key: str | None,
    api_token: str | None,
    oauth_client_id: str | None,
    oauth_client_secret: str | None,
    snapshot: str,
    faults: tuple[str, ...],
    seed: int | None,
    tls: bool,
    admin_token: str | None,
    export_files: tuple[str, ...],
) -> None:
    """Run the embedded CDP sandbox until SIGINT or SIGTERM; prints one ready line with its base URL."""
    # Imported here so that `cdp-poc-studio --help` does not load FastAPI and uvicorn.
    from cdp_poc_studio.sandbox.cli_support import build_config, run_from_cli

    try:
        config = build_config(
            host=host, port=port, db_path=db_path, client_key=client_key, api_token=api_token,
            oauth_client_id=oauth_client_id, oauth_client_secret=oauth_client_secret, snapshot=snapshot,
            faults=faults, seed=seed, tls=tls, admin_token=admin_token,
        )  # fmt: skip
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    raise SystemExit(run_from_cli(config, export_files))


def _load_scenario(path: Path) -> tuple[Scenario, ExtensionSchema]:
    from cdp_poc_studio.roundtrip.preflight import run_problems
    from cdp_poc_studio.roundtrip.scenario import ScenarioError, load_scenario
    from cdp_poc_studio.roundtrip.source.rows import resolve_source

    try:
        scenario = resolve_source(load_scenario(path), path.parent)
        schema = scenario.resolved_schema(path.parent)
        problems = run_problems(scenario, schema)
    except ScenarioError as exc:
        raise ConfigError(str(exc)) from None
    except RecursionError:
        raise ConfigError(
            f"{path}: the extension schema is nested too deeply to read; CDP stores data extensions as flat keys, "
            'so nest a few levels at most and keep deeper data as one JSON value (flatten = "json")'
        ) from None
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise ConfigError(f"{path}: this scenario cannot be run:\n{listing}")
    return scenario, schema


@contextmanager
def _open_target(scenario: Scenario, target: str | None, sandbox_db: str | None) -> Iterator[Target]:
    from cdp_poc_studio.targets.sandbox_process import SandboxStartError
    from cdp_poc_studio.targets.target import (
        TargetError,
        default_sandbox_db,
        needed_secrets,
        profile_target,
        sandbox_target,
    )

    choice = target or ("sandbox" if scenario.target.kind == "sandbox" else f"profile:{scenario.target.profile}")
    try:
        if choice == "sandbox":
            opened = sandbox_target(
                sandbox_db or default_sandbox_db(), scenario.target.snapshot, tls=scenario.target.tls
            )
        elif choice.startswith("profile:"):
            needed = needed_secrets(scenario.integration.load, scenario.integration.pull_back)
            opened = profile_target(choice.removeprefix("profile:"), needed)
        else:
            raise ConfigError(f"--target {choice!r}: use sandbox or profile:NAME")
        with opened as handle:
            if handle.kind == "profile":
                _probe(handle)
            yield handle
    except (TargetError, SandboxStartError) as exc:
        raise ConfigError(str(exc)) from None


def _probe(target: Target) -> None:
    """One quick request before anything is made: an unreachable tenant or refused credentials are said at once,
    with the host and the cause, instead of after a run folder exists and every retry has run out."""
    from cdp_poc_studio.cdp.retry import RetrySettings
    from cdp_poc_studio.domain.errors import CdpAuthError, CdpError, CdpNotFound

    http = target.connection.http.bound(retry=RetrySettings(attempts=1, deadline=15))
    try:
        http.get_json("/v2.1/guests", params={"limit": 1})
    except CdpNotFound:
        return  # reached, and the credentials were accepted
    except CdpAuthError as exc:
        raise ConfigError(f"{target.description} refused the client key and API token: {exc}") from None
    except CdpError as exc:
        raise click.ClickException(
            f"{target.description} cannot be reached: {exc}\nCheck the tenant's URL (region) on the studio's "
            "Connect page, the network, and any proxy or VPN; nothing was sent and no run folder was made."
        ) from None


def _finish(report: RunReport, folder: Path, output: str) -> None:
    from cdp_poc_studio.cli.console import summary

    if output == "json":
        from cdp_poc_studio.roundtrip.run_folder import RunFolder

        click.echo(RunFolder(folder).report_json.read_text())
    elif output == "text":
        click.echo(summary(report, str(folder / "report")))
    raise SystemExit(0 if report.verdict in ("passed", "waiting") else 1)


def _execute(pipeline: Pipeline, output: str) -> RunReport:
    import gzip
    import sqlite3
    import zlib

    import orjson
    from pydantic import ValidationError

    from cdp_poc_studio.cli.console import ProgressLine
    from cdp_poc_studio.domain.errors import CdpError
    from cdp_poc_studio.domain.progress import Cancelled
    from cdp_poc_studio.roundtrip.source.mapper import MappingError
    from cdp_poc_studio.roundtrip.source.reader import SourceError
    from cdp_poc_studio.roundtrip.source.rows import RowFindingsError

    # What a truncated gzip file, a damaged line or a damaged ledger raise while a run folder is read.
    damaged = (EOFError, zlib.error, gzip.BadGzipFile, orjson.JSONDecodeError, sqlite3.DatabaseError, ValidationError)
    line = ProgressLine()
    pipeline.progress = line if output == "text" else None
    try:
        return pipeline.run()
    except Cancelled:
        raise click.ClickException(f"cancelled; resume with: cdp-poc-studio resume {pipeline.folder.path}") from None
    except CdpError as exc:
        raise click.ClickException(
            f"{exc}\nThe run stopped; fix the cause, then: cdp-poc-studio resume {pipeline.folder.path}"
        ) from None
    except KeyboardInterrupt:
        raise click.ClickException(f"interrupted; resume with: cdp-poc-studio resume {pipeline.folder.path}") from None
    except (RowFindingsError, SourceError, MappingError) as exc:
        raise ConfigError(f"{exc}\nThe run folder: {pipeline.folder.path}") from None
    except damaged as exc:
        folder = pipeline.folder.path
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"a file in the run folder {folder} is damaged or truncated ({type(exc).__name__}: {cause}); it cannot "
            f"be completed: run the scenario again with `cdp-poc-studio run {folder / 'scenario.toml'}`"
        ) from None
    finally:
        line.close()


_YES = click.option(
    "--yes", is_flag=True, help="Run even when the estimate says it would take hours or fill most of the disk."
)


def _confirm_size(scenario: Scenario, runs_root: Path, yes: bool) -> None:
    """A run that would take hours or most of the disk starts only when confirmed (or with --yes)."""
    import sys

    from cdp_poc_studio.roundtrip.estimate import estimate_run

    estimate = estimate_run(scenario, runs_root)
    if not estimate.needs_confirmation or yes:
        return
    if estimate.bytes > estimate.free_bytes:
        raise ConfigError(f"{estimate.describe()}; lower --guests or free some disk")
    if not sys.stdin.isatty():
        raise ConfigError(f"{estimate.describe()}; add --yes to run it anyway, or lower --guests")
    if not click.confirm(f"{estimate.describe()}. Run it?", default=False, err=True):
        raise ConfigError("not started; lower --guests, or add --yes to skip this question")


_OUTPUT = click.option(
    "--output",
    type=click.Choice(["text", "json", "quiet"]),
    default="text",
    show_default=True,
    help="A one-screen summary, the JSON report, or nothing (the exit code says it all).",
)


@cli.command("run")
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--target", help="Override the scenario's target: sandbox, or profile:NAME (a saved tenant).")
@click.option(
    "--runs",
    "runs_root",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("runs"),
    show_default=True,
    help="Where run folders are made.",
)
@click.option("--sandbox-db", help="The sandbox database (default: in the user data folder; ':memory:' allowed).")
@click.option("--guests", type=click.IntRange(min=1), help="Override the scenario's guest count.")
@click.option(
    "--valid-rows-only",
    is_flag=True,
    help="With a [source] sample: send the rows that map cleanly even when others have findings.",
)
@_YES
@_OUTPUT
def run_command(
    scenario_path: Path,
    target: str | None,
    runs_root: Path,
    sandbox_db: str | None,
    guests: int | None,
    valid_rows_only: bool,
    yes: bool,
    output: str,
) -> None:
    """Run a scenario end to end: exit 0 when verification passes, 1 when it fails, 2 for bad usage."""
    from cdp_poc_studio.roundtrip.pipeline import Pipeline
    from cdp_poc_studio.roundtrip.source.mapper import SAMPLE_ERRORS

    scenario, schema = _load_scenario(scenario_path)
    if guests:
        scenario = scenario.model_copy(update={"generator": scenario.generator.model_copy(update={"guests": guests})})
    if valid_rows_only and scenario.source is not None:
        source = scenario.source.model_copy(update={"invalid_rows": "skip"})
        scenario = scenario.model_copy(update={"source": source})
    _confirm_size(scenario, runs_root, yes)
    with _open_target(scenario, target, sandbox_db) as handle:
        try:
            pipeline = Pipeline.start(scenario, schema, runs_root, handle)
        except SAMPLE_ERRORS as exc:
            raise ConfigError(str(exc)) from None
        report = _execute(pipeline, output)
    _finish(report, pipeline.folder.path, output)


@cli.command("demo")
@click.option(
    "--scenario",
    "name",
    default="retail_loyalty",
    show_default=True,
    help="A bundled scenario (its name in cdp_poc_studio/resources/scenarios).",
)
@click.option("--guests", type=click.IntRange(min=1), help="Override the scenario's guest count.")
@click.option(
    "--runs", "runs_root", type=click.Path(path_type=Path, file_okay=False), default=Path("runs"), show_default=True
)
@click.option("--tls", is_flag=True, help="Serve the sandbox over HTTPS (self-signed certificate, verified).")
@_YES
@_OUTPUT
def demo_command(name: str, guests: int | None, runs_root: Path, tls: bool, yes: bool, output: str) -> None:
    """Start a fresh embedded sandbox, run a bundled scenario end to end, print the summary and the report."""
    from cdp_poc_studio.resources import SCENARIOS
    from cdp_poc_studio.roundtrip.pipeline import Pipeline
    from cdp_poc_studio.targets.target import sandbox_target

    path = SCENARIOS / f"{name}.toml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in SCENARIOS.glob("*.toml")))
        raise ConfigError(f"no bundled scenario {name!r}; choose one of {names}")
    scenario, schema = _load_scenario(path)
    if guests:
        scenario = scenario.model_copy(update={"generator": scenario.generator.model_copy(update={"guests": guests})})
    _confirm_size(scenario, runs_root, yes)
    if output == "text":
        click.echo(
            f"Starting a fresh embedded CDP sandbox and running {scenario.name!r} "
            f"({scenario.generator.guests:,} guests, {scenario.integration.load} load)..."
        )
    # A throwaway database, so the demo starts clean every time and leaves nothing behind.
    with sandbox_target(":memory:", "immediate", tls=tls or scenario.target.tls) as handle:
        pipeline = Pipeline.start(scenario, schema, runs_root, handle)
        report = _execute(pipeline, output)
    _finish(report, pipeline.folder.path, output)


@cli.command("lookalike")
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--rows", type=click.IntRange(min=0), default=1000, show_default=True, help="Synthetic guests to add.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the proposed scenario (default: SCENARIO with -lookalike before .toml).",
)
def lookalike_command(scenario_path: Path, rows: int, out: Path | None) -> None:
    """Propose an extension schema and generator settings from a scenario's [source] sample, so that `run` sends
    the sample plus ROWS synthetic guests of the same shape. Edit the proposal in the studio's designer."""
    from cdp_poc_studio.roundtrip.scenario import save_scenario
    from cdp_poc_studio.roundtrip.source.lookalike import propose
    from cdp_poc_studio.roundtrip.source.mapper import SAMPLE_ERRORS
    from cdp_poc_studio.roundtrip.source.rows import open_mapping

    scenario, schema = _load_scenario(scenario_path)
    if scenario.source is None:
        raise ConfigError(f"{scenario_path}: no [source] table; look-alike data grows from a sample of the customer's")
    try:
        proposed = propose(scenario, schema, open_mapping(scenario, schema), rows)
    except SAMPLE_ERRORS as exc:
        raise ConfigError(str(exc)) from None
    target = out or scenario_path.with_name(f"{scenario_path.stem}-lookalike.toml")
    # Saved beside the original, the sample keeps its name relative to the scenario's folder.
    source = proposed.source
    assert source is not None
    folder = target.resolve().parent
    relative = source.with_paths(lambda file: Path(os.path.relpath(file, folder)).as_posix())
    proposed = proposed.model_copy(update={"source": relative})
    save_scenario(proposed, target)
    kept = [
        f"  {group}.{name}: {spec.kind}"
        + (f" of {len(spec.choices or [])} sample values" if spec.kind == "choice" else "")
        for group, fields in proposed.extensions.guest.items()
        for name, spec in fields.items()
    ]
    locales = ", ".join(proposed.generator.locales)
    click.echo(
        f"Wrote {target}: the sample plus {rows:,} synthetic guests (locales {locales}).\n"
        "Proposed extension fields (value sets carry sample values into synthetic rows; edit or drop them):\n"
        + "\n".join(kept)
    )


@cli.command("resume")
@click.argument("folder", metavar="RUN_FOLDER", type=click.Path(path_type=Path, file_okay=False, exists=True))
@_OUTPUT
def resume_command(folder: Path, output: str) -> None:
    """Complete a cancelled, crashed or waiting run: stages already done are not repeated, nothing is sent twice."""
    from cdp_poc_studio.roundtrip.live_run import running_in_own_process
    from cdp_poc_studio.roundtrip.pipeline import Pipeline

    run, state = _run_folder(folder)
    problem = running_in_own_process(folder)
    if problem:
        raise ConfigError(problem)
    scenario, schema = _load_scenario(run.scenario)
    from cdp_poc_studio.targets.target import needed_secrets

    with _reopen(state, needed_secrets(scenario.integration.load, scenario.integration.pull_back)) as handle:
        report = _execute(Pipeline(scenario, schema, run, handle), output)
    _finish(report, folder, output)


def _run_folder(folder: Path) -> tuple[RunFolder, RunState]:
    from cdp_poc_studio.roundtrip.run_folder import RunFolder

    run = RunFolder(folder)
    try:
        return run, run.load_state()
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


@contextmanager
def _reopen(state: RunState, needed: Iterable[SecretName] | None = None) -> Iterator[Target]:
    """The run's target; by default with the credentials of REST and batch only (what a clean-up uses)."""
    from cdp_poc_studio.targets.sandbox_process import SandboxStartError
    from cdp_poc_studio.targets.target import BASIC, TargetError, reopen_target

    try:
        reopened = reopen_target(state.target_kind, profile=state.profile, sandbox_db=state.sandbox_db,
                                 sandbox_snapshot=state.sandbox_snapshot, needed=needed or BASIC)  # fmt: skip
        with reopened as handle:
            yield handle
    except (TargetError, SandboxStartError) as exc:
        raise ConfigError(str(exc)) from None


@cli.command("report")
@click.argument("folder", metavar="RUN_FOLDER", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--bundle", is_flag=True, help="Also zip the whole run folder as evidence.")
def report_command(folder: Path, bundle: bool) -> None:
    """Render the reports of a run folder again (HTML, JSON, JUnit), and optionally zip the evidence."""
    from pydantic import ValidationError

    from cdp_poc_studio.roundtrip.report_model import RunReport
    from cdp_poc_studio.roundtrip.reports import bundle as make_bundle
    from cdp_poc_studio.roundtrip.reports import write_reports
    from cdp_poc_studio.roundtrip.run_folder import RunFolder

    source = RunFolder(folder).report_json
    try:
        report = RunReport.model_validate_json(source.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"{source} is missing: is {folder} a finished run folder?") from None
    except ValidationError as exc:
        raise ConfigError(f"{source} is damaged ({exc.error_count()} problem(s)); run the scenario again") from None
    paths = write_reports(report, folder / "report")
    for kind, path in paths.items():
        click.echo(f"{kind:<5} {path}")
    if bundle:
        click.echo(f"zip   {make_bundle(folder)}")


@cli.command("cleanup")
@click.argument("folder", metavar="RUN_FOLDER", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Delete without asking.")
def cleanup_command(folder: Path, yes: bool) -> None:
    """Delete what a run created in its target, after listing it."""
    from cdp_poc_studio.roundtrip.cleanup import execute_cleanup, plan_cleanup

    run, state = _run_folder(folder)
    if state.target_kind == "sandbox" and state.sandbox_db in (None, ":memory:"):
        click.echo("This run went to a throwaway sandbox: nothing is left to clean up.")
        return
    with _reopen(state) as handle:
        plan = plan_cleanup(run, handle.connection.http)
        if plan.empty:
            click.echo(f"Nothing of run {state.run_id} is left in {handle.description}.")
            return
        click.echo(
            f"In {handle.description}, run {state.run_id} left {len(plan.guests):,} guest(s) "
            f"and {len(plan.orders):,} order(s):"
        )
        for ref, key in plan.guests[:20]:
            click.echo(f"  guest {ref}  {key}")
        for ref, reference in plan.orders[:20]:
            click.echo(f"  order {ref}  {reference}")
        if len(plan.guests) + len(plan.orders) > 40:
            click.echo("  ...")
        if not yes and not click.confirm("Delete them? Deleting a guest deletes its orders too", default=False):
            click.echo("Nothing was deleted.")
            return
        guests, orders = execute_cleanup(plan, handle.connection.http)
        click.echo(f"Deleted {guests:,} guest(s) and {orders:,} order(s) left on their own.")


def main() -> None:
    cli()


def _register_handoff_commands() -> None:
    from cdp_poc_studio.cli.handoff import handoff_command, plan_command

    cli.add_command(handoff_command)
    cli.add_command(plan_command)


_register_handoff_commands()
