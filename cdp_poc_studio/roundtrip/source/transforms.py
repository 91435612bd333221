"""Transforms on a mapping rule: small declarative steps from a customer's cell to the value CDP wants.

A rule's `transforms` run in order on the cell (or on the list of cells, for a rule over several columns).
Each step is a pydantic model named by `op`, written in a scenario as an inline table:
`transforms = [{ op = "trim" }, { op = "date", formats = ["%d/%m/%Y", "%Y-%m-%d"] }]`.

Empty cells are None: every step but `default` and `constant` passes them through untouched, so that a missing
value stays missing. A step that cannot convert a value raises TransformError with the reason, which the mapper
turns into a finding for that row and column: never a silent skip. Steps applied to a list (after `split`, or a
rule over several columns) apply to each element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

Primitive = str | bool | int | float
Step = Callable[[Any], Any]

# CDP's forms: dates as its own examples write them (no milliseconds, which the Batch API refuses for
# dateOfBirth), date-times as the generator writes orderedAt.
CDP_DATE = "%Y-%m-%dT00:00Z"
CDP_DATETIME = "%Y-%m-%dT%H:%M:%S.000Z"
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
CACHE = 65_536


class TransformError(ValueError):
    """A value a step cannot convert; the message is the reason, said so that the user can fix the file or rule."""


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def step(self) -> Step:  # pragma: no cover - every op overrides it
        raise NotImplementedError

    @property
    def handles_empty(self) -> bool:
        return False


class Trim(_Op):
    """Strip surrounding spaces; `collapse` also folds inner runs of spaces to one. An all-space cell is empty."""

    op: Literal["trim"]
    collapse: bool = False

    def step(self) -> Step:
        collapse = self.collapse

        def trim(value: Any) -> Any:
            if not isinstance(value, str):
                return value
            text = " ".join(value.split()) if collapse else value.strip()
            return text or None

        return trim


class Case(_Op):
    op: Literal["case"]
    to: Literal["lower", "upper", "title"]

    def step(self) -> Step:
        method = {"lower": str.lower, "upper": str.upper, "title": str.title}[self.to]
        return lambda value: method(value) if isinstance(value, str) else value


def _check_formats(value: str | list[str]) -> list[str]:
    formats = [value] if isinstance(value, str) else list(value)
    if not formats:
        raise ValueError("give at least one format, for example formats = ['%d/%m/%Y']")
    for fmt in formats:
        if "%" not in fmt:
            raise ValueError(f"{fmt!r} is not a strptime format; write it with % codes, for example '%d/%m/%Y'")
    return formats


class Date(_Op):
    """A date in one of `formats` (tried in order) to CDP's ISO form; `output = "date"` gives 1985-03-14."""

    op: Literal["date"]
    formats: list[str] = ["%Y-%m-%d"]
    output: Literal["cdp", "date"] = "cdp"

    @field_validator("formats", mode="before")
    @classmethod
    def _formats(cls, value: str | list[str]) -> list[str]:
        return _check_formats(value)

    def step(self) -> Step:
        formats, out = tuple(self.formats), CDP_DATE if self.output == "cdp" else "%Y-%m-%d"
        readers = [_date_reader(fmt) for fmt in formats]
        cdp = self.output == "cdp"

        @lru_cache(CACHE)
        def parse(text: str) -> str:
            text = text.strip()
            for fmt, reader in zip(formats, readers, strict=True):
                try:
                    if reader is not None:
                        day = reader(text)
                        if day is None:
                            continue
                        year, month, date_ = day
                        datetime(year, month, date_)  # a real day: 31/02 is refused here
                        return f"{year:04d}-{month:02d}-{date_:02d}" + ("T00:00Z" if cdp else "")
                    return datetime.strptime(text, fmt).strftime(out)
                except ValueError:
                    continue
            raise TransformError(f"{text!r} is not a date in the form {' or '.join(formats)}")

        return lambda value: parse(value) if isinstance(value, str) else _not_text(value, "a date")


_DATE_CODES = {"%d": r"(?P<d>\d{1,2})", "%m": r"(?P<m>\d{1,2})", "%Y": r"(?P<Y>\d{4})"}


def _date_reader(fmt: str) -> Callable[[str], tuple[int, int, int] | None] | None:
    """A regex reader for day-month-year formats (strptime is slow); None for any other format, read by strptime.

    The reader gives (year, month, day), or None when the text is not in this format; the caller checks the day
    exists. Only %d, %m and %Y with literal separators are read this way, each exactly once.
    """
    parts = re.split(r"(%.)", fmt)
    codes = [p for p in parts if p.startswith("%")]
    if sorted(codes) != ["%Y", "%d", "%m"]:
        return None
    pattern = re.compile("".join(_DATE_CODES[p] if p in _DATE_CODES else re.escape(p) for p in parts if p) + "$")

    def read(text: str) -> tuple[int, int, int] | None:
        found = pattern.match(text)
        if found is None:
            return None
        return int(found["Y"]), int(found["m"]), int(found["d"])

    return read


class DateTime(_Op):
    """A date-time in one of `formats` to CDP's ISO form in UTC; values without a zone are read in `timezone`."""

    op: Literal["datetime"]
    formats: list[str] = ["%Y-%m-%dT%H:%M:%S%z"]
    timezone: str = "UTC"

    @field_validator("formats", mode="before")
    @classmethod
    def _formats(cls, value: str | list[str]) -> list[str]:
        return _check_formats(value)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone; write an IANA name like 'Europe/Dublin' or 'UTC'"
            ) from None
        return value

    def step(self) -> Step:
        formats, zone = tuple(self.formats), ZoneInfo(self.timezone)

        @lru_cache(CACHE)
        def parse(text: str) -> str:
            for fmt in formats:
                try:
                    moment = datetime.strptime(text.strip(), fmt)
                except ValueError:
                    continue
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
                return moment.astimezone(UTC).strftime(CDP_DATETIME)
            raise TransformError(f"{text!r} is not a date-time in the form {' or '.join(formats)}")

        return lambda value: parse(value) if isinstance(value, str) else _not_text(value, "a date-time")


class Boolean(_Op):
    """yes/no, y/n, true/false, t/f, 1/0 in any case, plus any words given in `true` and `false`."""

    op: Literal["boolean"]
    true: list[str] = []
    false: list[str] = []

    def step(self) -> Step:
        yes = TRUE_WORDS | {w.strip().lower() for w in self.true}
        no = FALSE_WORDS | {w.strip().lower() for w in self.false}

        def boolean(value: Any) -> Any:
            if isinstance(value, bool):
                return value
            word = str(value).strip().lower()
            if word in yes:
                return True
            if word in no:
                return False
            raise TransformError(f"{value!r} is not a yes/no value (yes, no, y, n, true, false, 1, 0)")

        return boolean


_GROUPING = str.maketrans("", "", ",.' \u00a0")


class Number(_Op):
    """A number with `decimal` "." or "," and optional thousands separators (the other mark, a space or ')."""

    op: Literal["number"]
    decimal: Literal[".", ","] = "."
    integer: bool = False

    def step(self) -> Step:
        point = re.escape(self.decimal)
        group = r"[,' \u00a0]" if self.decimal == "." else r"[.' \u00a0]"
        pattern = re.compile(rf"^([+-]?)(\d{{1,3}}(?:{group}\d{{3}})+|\d+)(?:{point}(\d+))?$")
        integer, decimal = self.integer, self.decimal
        other = "," if decimal == "." else "."

        def number(value: Any) -> Any:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TransformError(f"{value!r} is not a number")
            if not isinstance(value, str):
                return value
            found = pattern.match(value.strip())
            if found is None:
                hint = f" (set decimal = {other!r} for numbers like 1{other}5)" if other in value else ""
                raise TransformError(f"{value!r} is not a number with decimal mark {decimal!r}{hint}")
            sign, whole, fraction = found.groups()
            digits = sign + (whole if whole.isdigit() else whole.translate(_GROUPING))
            if fraction is None:
                return int(digits)
            if integer:
                raise TransformError(f"{value!r} has a fraction; this rule takes whole numbers")
            return float(f"{digits}.{fraction}")

        return number


class Country(_Op):
    """A country's name, official name, alpha-3 or alpha-2 code to its ISO 3166-1 alpha-2 code (pycountry)."""

    op: Literal["country"]

    def step(self) -> Step:
        @lru_cache(4096)
        def code(text: str) -> str:
            import pycountry

            name = text.strip()
            try:
                return str(pycountry.countries.lookup(name).alpha_2)
            except LookupError:
                pass
            try:
                # Common forms the strict lookup misses ("Republic of Ireland", "Great Britain").
                return str(pycountry.countries.search_fuzzy(name)[0].alpha_2)
            except LookupError:
                raise TransformError(f"{text!r} is not a country name or ISO code known to pycountry") from None

        return lambda value: code(value) if isinstance(value, str) else _not_text(value, "a country")


class Language(_Op):
    """A language's name or ISO 639 code to the 2-letter ISO 639-1 code CDP expects, in capitals (EN)."""

    op: Literal["language"]

    def step(self) -> Step:
        @lru_cache(1024)
        def code(text: str) -> str:
            import pycountry

            name = text.strip()
            # A 2-letter code first: the general lookup also matches names, and "en" is the name of a language.
            language = pycountry.languages.get(alpha_2=name.lower()) if len(name) == 2 else None
            try:
                language = language or pycountry.languages.lookup(name)
            except LookupError:
                raise TransformError(f"{text!r} is not a language name or ISO 639 code known to pycountry") from None
            alpha_2 = getattr(language, "alpha_2", None)
            if alpha_2 is None:
                raise TransformError(f"{text!r} ({language.name}) has no 2-letter ISO 639-1 code, which CDP needs")
            return str(alpha_2).upper()

        return lambda value: code(value) if isinstance(value, str) else _not_text(value, "a language")


class Split(_Op):
    """A cell holding several values (`a;b;c`) to a list; the parts are trimmed and empty ones dropped."""

    op: Literal["split"]
    separator: str = Field(default=",", min_length=1)

    def step(self) -> Step:
        separator = self.separator

        def split(value: Any) -> Any:
            if isinstance(value, list):
                return value
            parts = [part.strip() for part in str(value).split(separator)]
            return [part for part in parts if part] or None

        return split


class Join(_Op):
    """A list to one text, its parts joined by `separator`."""

    op: Literal["join"]
    separator: str = ", "

    def step(self) -> Step:
        separator = self.separator
        return lambda value: (
            separator.join(str(v) for v in value if v is not None) if isinstance(value, list) else value
        )


class Concat(_Op):
    """The values of a rule over several columns to one text, the empty ones left out."""

    op: Literal["concat"]
    separator: str = " "

    def step(self) -> Step:
        separator = self.separator

        def concat(value: Any) -> Any:
            if not isinstance(value, list):
                return value
            return separator.join(str(v) for v in value if v not in (None, "")) or None

        return concat


class Constant(_Op):
    """The same value for every row, whatever the cell holds (or with no column at all)."""

    op: Literal["constant"]
    value: Primitive

    @property
    def handles_empty(self) -> bool:
        return True

    def step(self) -> Step:
        constant = self.value
        return lambda _value: constant


class Lookup(_Op):
    """A value replaced by its entry in `table` (keys matched ignoring case and spaces around them).

    A value not in the table is a finding, unless `otherwise = "keep"` keeps it as it is.
    """

    op: Literal["lookup"]
    table: dict[str, Primitive] = Field(min_length=1)
    otherwise: Literal["error", "keep"] = "error"

    def step(self) -> Step:
        table = {key.strip().lower(): value for key, value in self.table.items()}
        keep = self.otherwise == "keep"
        known = ", ".join(sorted(self.table)[:8])

        def lookup(value: Any) -> Any:
            found = table.get(str(value).strip().lower(), _MISSING)
            if found is not _MISSING:
                return found
            if keep:
                return value
            raise TransformError(f"{value!r} is not in the lookup table ({known}); add it to the table")

        return lookup


class Default(_Op):
    """The value to send when the cell is empty."""

    op: Literal["default"]
    value: Primitive

    @property
    def handles_empty(self) -> bool:
        return True

    def step(self) -> Step:
        default = self.value
        return lambda value: default if value is None or value == [] else value


_MISSING: Any = object()

Transform = Annotated[
    Trim
    | Case
    | Date
    | DateTime
    | Boolean
    | Number
    | Country
    | Language
    | Split
    | Join
    | Concat
    | Constant
    | Lookup
    | Default,
    Field(discriminator="op"),
]
OPS = ("trim", "case", "date", "datetime", "boolean", "number", "country", "language", "split", "join", "concat",
       "constant", "lookup", "default")  # fmt: skip


def _not_text(value: Any, what: str) -> Any:
    raise TransformError(f"{value!r} is not text that could hold {what}")


def _elementwise(step: Step) -> Step:
    def apply(value: Any) -> Any:
        if isinstance(value, list):
            out = [step(v) for v in value if v is not None]
            return [v for v in out if v is not None] or None
        return step(value)

    return apply


def compile_steps(transforms: Sequence[_Op]) -> Step:
    """One function applying the transforms in order; empty values skip the steps that do not handle them."""
    chain: list[tuple[Step, bool]] = []
    for transform in transforms:
        step = transform.step()
        # split, join and concat take the list as a whole; the others apply to each element of a list.
        if not isinstance(transform, (Split, Join, Concat, Constant, Default)):
            step = _elementwise(step)
        chain.append((step, transform.handles_empty))
    if not chain:
        return _identity
    if len(chain) == 1 and not chain[0][1]:
        only = chain[0][0]
        return lambda value: None if value is None else only(value)

    def run(value: Any) -> Any:
        for step, handles_empty in chain:
            if value is None and not handles_empty:
                continue
            value = step(value)
        return value

    return run


def _identity(value: Any) -> Any:
    return value
