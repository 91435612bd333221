"""Test data shared across folders: the bundled schema and scenarios, seeded generators, quick retry settings."""

from __future__ import annotations

from pathlib import Path

from cdp_poc_studio.cdp.retry import RetrySettings
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.generator.records import Generator
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.resources import SCENARIOS, SCHEMAS
from cdp_poc_studio.roundtrip.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = SCHEMAS / "retail_loyalty.toml"
# Short backoffs keep fault tests quick; the policy is the same.
FAST_RETRY = RetrySettings(attempts=10, initial=0.02, maximum=0.5, jitter=0.05, max_retry_after=2.0, deadline=120)


def make_generator(guests: int, schema: ExtensionSchema, seed: int = 7, **settings: object) -> Generator:
    return Generator(GeneratorSettings(guests=guests, seed=seed, **settings), schema)  # type: ignore[arg-type]


def bundled(name: str, **generator: object) -> tuple[Scenario, ExtensionSchema]:
    """A bundled scenario (its generator settings overridden by `generator`) and its resolved schema."""
    path = SCENARIOS / f"{name}.toml"
    scenario = load_scenario(path)
    if generator:
        scenario = scenario.model_copy(update={"generator": scenario.generator.model_copy(update=generator)})
    return scenario, scenario.resolved_schema(path.parent)
