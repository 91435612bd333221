"""The command line: thin commands that call the packages below."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from cdp_poc_studio import __version__


class ConfigError(click.ClickException):
    """Bad usage or configuration: exit code 2, as for a usage error, with a message that says what to do."""

    exit_code = 2


@click.group(invoke_without_command=True)
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
def gui_command(scenario: Path | None = None) -> None:
    """Open the studio window, optionally on a scenario file."""
    # Imported here so that the other commands never load Qt.
    from cdp_poc_studio.app import display_problem

    problem = display_problem()
    if problem:
        click.echo(problem, err=True)
        raise SystemExit(2)
    from cdp_poc_studio.app import run_gui

    raise SystemExit(run_gui(scenario))


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
    help="Extension schema file (TOML or JSON); see resources/schemas/.",
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
    export_files: tuple[str, ...],
) -> None:
    """Run the embedded CDP sandbox until SIGINT or SIGTERM; prints one ready line with its base URL."""
    # Imported here so that `cdp-poc-studio --help` does not load FastAPI and uvicorn.
    from cdp_poc_studio.sandbox.cli_support import build_config, run_from_cli

    try:
        config = build_config(
            host=host, port=port, db_path=db_path, client_key=client_key, api_token=api_token,
            oauth_client_id=oauth_client_id, oauth_client_secret=oauth_client_secret, snapshot=snapshot,
            faults=faults, seed=seed,
        )  # fmt: skip
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    raise SystemExit(run_from_cli(config, export_files))


def main() -> None:
    cli()
