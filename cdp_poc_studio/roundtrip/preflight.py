"""What `run` refuses before it sends anything: the one list of checks the command line and the studio share."""

from __future__ import annotations

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_check import check_schema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.values import SchemaValueError
from cdp_poc_studio.roundtrip.scenario import Scenario


def run_problems(scenario: Scenario, schema: ExtensionSchema, *, build_values: bool = True) -> list[str]:
    """Why this scenario must not be sent, each with its key and the fix; empty when it can go.

    A run of 0 guests would "pass" having proved nothing, so it is bad usage, like a schema CDP would refuse.
    `build_values=False` leaves out building every field's value maker (a few hundred milliseconds for a large
    schema): for the studio, whose run process makes that check itself before it makes the run folder.
    """
    problems: list[str] = []
    if scenario.generator.guests < 1:
        problems.append("[generator] guests is 0: a run needs at least 1 guest to prove anything")
    violations = check_schema(schema, api=scenario.integration.load)
    problems.extend(f"the extension schema breaks CDP's rules: {violation}" for violation in violations)
    if not violations and build_values:
        try:
            # Builds every field's value maker: an unknown Faker provider or bad arguments fail here, not mid-run.
            Generator(scenario.generator, schema)
        except SchemaValueError as exc:
            problems.append(f"the extension schema: {exc}")
    return problems
