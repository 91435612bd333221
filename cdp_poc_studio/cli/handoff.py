"""`handoff` and `plan`: what a PoC run leaves for the customer's developers, and how long a full load takes."""

from __future__ import annotations

from pathlib import Path

import click


class _UsageError(click.ClickException):
    exit_code = 2


@click.command("handoff")
@click.argument("run", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False), help="Folder to write.")
def handoff_command(run: Path, out: Path) -> None:
    """Write a run's hand-off: Postman collection, load.py, Personalize decisions and data lake SQL, README."""
    from cdp_poc_studio.roundtrip.handoff import HandoffError, write_handoff

    try:
        result = write_handoff(run, out)
    except HandoffError as exc:
        raise _UsageError(str(exc)) from None
    click.echo(f"Hand-off of {run.name} written to {result.out}:")
    click.echo(f"  postman/collection.json   {result.postman_requests:,} requests with tests (+ environment.json)")
    click.echo(f"  load.py, load/plan.json   {result.load_steps:,} load steps" + (
        f", {result.batch_files} batch file(s) in batches/" if result.batch_files else ""
    ))  # fmt: skip
    click.echo(f"  decisions/, sql/          {result.snippets} snippets for the nested fields")
    click.echo(f"  README.md                 what each file is and how to run it ({result.out / 'README.md'})")
