"""The command line: thin commands that call the packages below."""

from __future__ import annotations

import click

from cdp_poc_studio import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="cdp-poc-studio")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """CDP PoC Studio: generate, send, export and verify Sitecore CDP data, end to end."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main() -> None:
    cli()
