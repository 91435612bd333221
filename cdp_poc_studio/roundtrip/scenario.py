"""Scenario files: everything a PoC needs, in versioned TOML, and nothing secret.

A scenario names its target (the embedded sandbox or a named connection profile), the integration points for
loading and for pulling back, the generator settings and extension schema, field mapping overrides, the audience
export definition, what to verify and the thresholds that decide pass or fail. Files are written with a stable
key order and without defaults the user never touched, so they diff well in git.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cdp_poc_studio.domain.limits import RESERVED_EXTENSION_KEYS
from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_file import SchemaFileError, load_schema
from cdp_poc_studio.generator.settings import GeneratorSettings
from cdp_poc_studio.roundtrip.advisor import AdvisorAnswers
from cdp_poc_studio.roundtrip.source.spec import IDENTIFIER_TARGET, SourceSpec, parse_target
from cdp_poc_studio.roundtrip.source.transforms import Transform

SCENARIO_VERSION = 1
FRIENDLY_ID = re.compile(r"^[a-z0-9_]{1,64}$")
# A wire path in a guest: an attribute (`firstName`) or a key of an extension group (`ext.loyaltyTier`).
WIRE_PATH = re.compile(r"^(?:(ext[1-5]?)\.)?([a-z][A-Za-z0-9]*)$")
# Guest attributes CDP sets itself (facts §3.4): a value mapped there is dropped or refused.
READ_ONLY_GUEST_ATTRIBUTES = frozenset({"ref", "href", "createdAt", "modifiedAt"})


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetSpec(_Section):
    kind: Literal["sandbox", "profile"] = "sandbox"
    # A connection profile's name; its secrets live in the OS keyring or the environment, never here.
    profile: str | None = None
    # Sandbox only: "nightly" behaves as a real tenant, whose segments see data from the next day on.
    snapshot: Literal["immediate", "nightly"] = "immediate"
    # Sandbox only: serve HTTPS with its self-signed certificate, which the run's client trusts (verification on).
    tls: bool = False

    @model_validator(mode="after")
    def _needs_profile(self) -> Self:
        if self.kind == "profile" and not self.profile:
            raise ValueError('a profile target needs profile = "<name of a connection profile>"')
        return self


class IntegrationSpec(_Section):
    load: Literal["batch", "rest"] = "batch"
    pull_back: list[Literal["rest", "export"]] = ["rest", "export"]
    # The advisor's questions as answered when the choice was made, kept as the record of why.
    advisor: AdvisorAnswers | None = None

    @field_validator("pull_back")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('pull back at least one way: ["rest"], ["export"] or both')
        return sorted(set(value), key=value.index)


def _not_reserved(target: str) -> None:
    """A mapping target CDP keeps for itself is refused, saying why (docs/verification.md, metadata)."""
    group, _, key = target.rpartition(".")
    if group and key in RESERVED_EXTENSION_KEYS:
        raise ValueError(
            f"{target!r}: {key!r} is the extension's own envelope (name, key, ref, links, timestamps), not a data "
            "key; CDP would overwrite it or drop the value on read-back: choose another key"
        )
    if not group and key in READ_ONLY_GUEST_ATTRIBUTES:
        raise ValueError(f"{target!r} is set by CDP (read-only, facts §3.4): map to another attribute")


def _not_a_guest_field(value: str) -> str:
    return f"{value!r} is not a guest field: write an attribute (firstName) or ext..ext5 and a key (ext.loyaltyTier)"


class MappingRule(_Section):
    """A field mapping rule, in one of two forms.

    Generated data: send the value generated at `source` to the CDP field `target` instead (both wire paths).
    A `[source]` sample: send the cell of `column` (a CSV column or a dotted JSON path; a list of columns for
    `concat`) to `target` through `transforms`, in order.
    """

    source: str | None = None
    column: str | list[str] | None = None
    target: str
    # For an identifiers.id target: the identifier's provider (default: generator.identifier_provider).
    provider: str | None = None
    # An empty cell in a required rule is a finding; otherwise the field is left out of the record.
    required: bool = False
    transforms: list[Transform] = []

    @field_validator("source")
    @classmethod
    def _wire_path(cls, value: str | None) -> str | None:
        if value is not None and not WIRE_PATH.match(value):
            raise ValueError(_not_a_guest_field(value))
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if self.source is not None:
            if self.column is not None or self.transforms or self.provider is not None:
                raise ValueError("a rule takes either source (a generated field) or column and transforms (a sample)")
            if not WIRE_PATH.match(self.target):
                raise ValueError(_not_a_guest_field(self.target))
            _not_reserved(self.target)
            return self
        if self.column is None and not any(t.op == "constant" for t in self.transforms):
            raise ValueError('a rule needs source = "<generated field>", or column = "<sample column>" '
                             '(or a constant transform)')  # fmt: skip
        if isinstance(self.column, list) and not self.column:
            raise ValueError("column lists at least one column")
        parse_target(self.target)
        if self.provider is not None and self.target != IDENTIFIER_TARGET:
            raise ValueError(f"provider belongs to a rule whose target is {IDENTIFIER_TARGET}")
        return self

    @property
    def columns(self) -> list[str]:
        """The sample columns the rule reads (none for a constant)."""
        if self.column is None:
            return []
        return [self.column] if isinstance(self.column, str) else list(self.column)

    @property
    def label(self) -> str:
        """How findings name the rule's input: its column(s), or its target for a constant."""
        return " + ".join(self.columns) or f"(constant for {self.target})"


class CsvOptions(_Section):
    separator: Literal[",", "|"] = ","
    header: bool = True
    quote: bool = True


class ExportSpec(_Section):
    friendly_id: str = "poc_studio_export"
    name: str = "PoC Studio export"
    definition_type: Literal["FULL_SYNC", "DELTA"] = "FULL_SYNC"
    format: Literal["json", "csv"] = "json"
    csv: CsvOptions = CsvOptions()
    attributes: list[str] = [
        "email",
        "firstName",
        "lastName",
        "gender",
        "dateOfBirth",
        "city",
        "country",
        "postCode",
        "identifiers",
    ]
    include_extensions: bool = True
    include_orders: bool = False
    # The segment, in the sandbox's rule form; None means: the guests this run created (by run tag).
    segment: dict[str, Any] | None = None

    @field_validator("friendly_id")
    @classmethod
    def _friendly(cls, value: str) -> str:
        if not FRIENDLY_ID.match(value):
            raise ValueError("friendly_id takes lowercase letters, digits and underscores only, as in CDP")
        return value


class Thresholds(_Section):
    min_field_pass_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    max_missing_records: int = Field(default=0, ge=0)
    max_rejected_records: int = Field(default=0, ge=0)


class VerifySpec(_Section):
    # Guest fields to compare (wire paths, `ext.address` for a whole nested field); empty means all of them.
    fields: list[str] = []
    ignore: list[str] = []
    orders: bool = True
    thresholds: Thresholds = Thresholds()


class Scenario(_Section):
    scenario_version: Literal[1] = 1
    name: str = Field(min_length=1)
    description: str = ""
    target: TargetSpec = TargetSpec()
    integration: IntegrationSpec = IntegrationSpec()
    generator: GeneratorSettings = GeneratorSettings()
    # Either a schema file (relative to the scenario) or an inline schema; the file wins when both are given.
    schema_file: str | None = None
    extensions: ExtensionSchema = ExtensionSchema()
    # A sample of the customer's own records, sent instead of generated guests (mapped by column rules).
    source: SourceSpec | None = None
    mapping: list[MappingRule] = []
    export: ExportSpec = ExportSpec()
    verify: VerifySpec = VerifySpec()

    @model_validator(mode="after")
    def _rules_fit_the_source(self) -> Self:
        for rule in self.mapping:
            if self.source is None and rule.source is None:
                raise ValueError(
                    f"the rule for {rule.target} reads a sample column, but the scenario has no [source] table; "
                    'add [source] with file = "<the sample file>"'
                )
            if self.source is not None and rule.source is not None:
                raise ValueError(
                    f"the rule for {rule.target} names a generated field (source = {rule.source!r}), but this "
                    'scenario sends a [source] sample; write column = "<sample column>" instead'
                )
        return self

    def resolved_schema(self, base: Path | None) -> ExtensionSchema:
        if self.schema_file is None:
            return self.extensions
        path = Path(self.schema_file)
        return load_schema(path if path.is_absolute() or base is None else base / path)


class ScenarioError(ValueError):
    """A scenario that cannot be used: the file, the line where known, the key path and the fix."""

    def __init__(self, file: Path | None, line: int | None, where: str, problem: str) -> None:
        self.file, self.line, self.where, self.problem = file, line, where, problem
        place = f"{file}" if file else "scenario"
        if line:
            place += f", line {line}"
        super().__init__(f"{place}: {where}: {problem}" if where else f"{place}: {problem}")


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, None, "", "no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, None, "", f"cannot be read ({exc})") from None
    scenario = parse_scenario(text, path)
    try:
        scenario.resolved_schema(path.parent)
    except SchemaFileError as exc:
        raise ScenarioError(path, _line_of(text, ("schema_file",)), "schema_file", str(exc)) from None
    return scenario


def parse_scenario(text: str, path: Path | None = None) -> Scenario:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute, only "(at line N, column M)" in its text.
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise ScenarioError(path, line, "", f"not valid TOML: {exc}") from None
    version = data.get("scenario_version")
    if version != SCENARIO_VERSION:
        raise ScenarioError(
            path,
            _line_of(text, ("scenario_version",)),
            "scenario_version",
            f"this studio reads version {SCENARIO_VERSION} scenarios; the file says {version!r}"
            + (" (add scenario_version = 1 at the top)" if version is None else ""),
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}; check its spelling against docs/scenario-format.md"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise ScenarioError(path, _line_of(text, loc), ".".join(loc) or "top level", message) from None


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """The line of a key path in TOML text, found by reading table headers and keys; None when unsure."""
    keys = [part for part in loc if not part.isdigit()]
    if not keys:
        return None
    table: list[str] = []
    best: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if header:
            table = [part.strip().strip('"') for part in header.group(1).split(".")]
            if table == keys:
                best = number
            continue
        key = re.match(r"^([A-Za-z0-9_\-\"]+)\s*=", line)
        if (key and [*table, key.group(1).strip('"')] == keys[: len(table) + 1] and len(table) + 1 <= len(keys)) or (
            table and keys[: len(table)] == table and best is None
        ):
            best = number
    return best


def dump_scenario(scenario: Scenario) -> str:
    """TOML with a stable key order, leaving out every value still at its default."""
    import tomli_w

    data = scenario.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {"scenario_version": SCENARIO_VERSION, **data}
    return str(tomli_w.dumps(data, multiline_strings=True))


def save_scenario(scenario: Scenario, path: Path) -> None:
    """Write atomically: a crash or a full disk mid-write never leaves a half-written scenario."""
    text = dump_scenario(scenario)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
