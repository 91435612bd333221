"""Transforms as one line of text, for editing in a table cell: `trim | date:%d/%m/%Y,%Y-%m-%d | case:title`.

Steps are separated by ` | ` (a bar with spaces round it); each is `op` or `op:argument`, the argument's meaning
depending on the op. `format_steps` writes what `parse_steps` reads, so a rule survives a round trip through the
cell; options the short form cannot say (lookup's `otherwise`, boolean's extra words) keep the long form in TOML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cdp_poc_studio.roundtrip.source.transforms import (
    OPS,
    Boolean,
    Case,
    Concat,
    Constant,
    Date,
    DateTime,
    Default,
    Join,
    Lookup,
    Number,
    Split,
    Transform,
    Trim,
)

SEPARATOR = " | "
SYNTAX = (
    "Steps separated by ' | ': trim (trim:collapse), case:lower|upper|title, date:%d/%m/%Y[,%Y-%m-%d], "
    "datetime:%d/%m/%Y %H:%M[@Europe/Dublin], boolean, number (number:, for a decimal comma), country, language, "
    "split:;, join:, , concat: , constant:VALUE, default:VALUE, lookup:g=gold,s=silver[,*=keep], boolean:oui/non"
)
_STEPS: TypeAdapter[list[Any]] = TypeAdapter(list[Transform])


class StepsSyntaxError(ValueError):
    """Text that is not a list of steps; the message names the step and shows the syntax."""


def parse_steps(text: str) -> list[Any]:
    steps: list[dict[str, Any]] = []
    for part in (p for p in text.split(SEPARATOR) if p.strip()):
        # The argument is kept as typed: a separator may be a space ("concat: ") or end in one ("join:, ").
        op, colon, argument = part.lstrip().partition(":")
        op = op.strip().lower()
        if op not in OPS:
            raise StepsSyntaxError(f"{op!r} is not a transform; {SYNTAX}")
        steps.append(_step(op, argument if colon else None))
    try:
        return _STEPS.validate_python(steps)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise StepsSyntaxError(f"{first['msg'].removeprefix('Value error, ')}; {SYNTAX}") from None


def _step(op: str, argument: str | None) -> dict[str, Any]:
    step: dict[str, Any] = {"op": op}
    if argument is None:
        return step
    if op not in ("split", "join", "concat", "constant", "default"):
        argument = argument.strip()
    if op == "trim":
        step["collapse"] = argument.strip() == "collapse"
    elif op == "case":
        step["to"] = argument.strip()
    elif op == "date":
        step["formats"] = [f.strip() for f in argument.split(",") if f.strip()]
    elif op == "datetime":
        formats, at, zone = argument.partition("@")
        step["formats"] = [f.strip() for f in formats.split(",") if f.strip()]
        if at:
            step["timezone"] = zone.strip()
    elif op == "number":
        step["decimal"] = argument.strip() or "."
    elif op in ("split", "join", "concat"):
        step["separator"] = argument
    elif op in ("constant", "default"):
        step["value"] = _value(argument)
    elif op == "lookup":
        table = {}
        for pair in argument.split(","):
            key, equals, value = pair.partition("=")
            if not equals:
                raise StepsSyntaxError(f"lookup entries are key=value, not {pair!r}; {SYNTAX}")
            if key.strip() == "*":
                step["otherwise"] = value.strip()  # *=keep: values not in the table pass unchanged
                continue
            table[key.strip()] = value.strip()
        step["table"] = table
    elif op == "boolean":
        # boolean:oui,si/non: more words for true, then for false.
        true, _slash, false = argument.partition("/")
        step["true"] = [w.strip() for w in true.split(",") if w.strip()]
        step["false"] = [w.strip() for w in false.split(",") if w.strip()]
    return step


def _value(argument: str) -> Any:
    """A constant's text: a JSON number, true/false or a "quoted" text are read as such; anything else is text."""
    try:
        value = json.loads(argument)
    except ValueError:
        return argument
    return value if isinstance(value, (bool, int, float, str)) else argument


def _value_text(value: Any) -> str:
    if isinstance(value, str) and _value(value) == value and not value.startswith('"'):
        return value
    return json.dumps(value, ensure_ascii=False)


def format_steps(steps: Sequence[Any]) -> str:
    return SEPARATOR.join(_text(step) for step in steps)


def _text(step: Any) -> str:
    match step:
        case Trim(collapse=True):
            return "trim:collapse"
        case Case():
            return f"case:{step.to}"
        case Date():
            return "date:" + ",".join(step.formats)
        case DateTime():
            zone = f"@{step.timezone}" if step.timezone != "UTC" else ""
            return "datetime:" + ",".join(step.formats) + zone
        case Number(decimal=","):
            return "number:,"
        case Split() | Join() | Concat():
            return f"{step.op}:{step.separator}"
        case Constant() | Default():
            return f"{step.op}:{_value_text(step.value)}"
        case Lookup():
            keep = [f"*={step.otherwise}"] if step.otherwise != "error" else []
            return "lookup:" + ",".join([*(f"{k}={v}" for k, v in step.table.items()), *keep])
        case Boolean() if step.true or step.false:
            return f"boolean:{','.join(step.true)}/{','.join(step.false)}"
        case _:
            return str(step.op)
