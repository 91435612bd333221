"""Reading an extension schema file (TOML or JSON), with errors that name the file, key path and fix."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cdp_poc_studio.domain.schema import ExtensionSchema


class SchemaFileError(ValueError):
    """A schema file that cannot be used: which file, where in it, and what is wrong."""

    def __init__(self, file: Path, where: str, problem: str) -> None:
        self.file, self.where, self.problem = file, where, problem
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")


def load_schema(path: Path) -> ExtensionSchema:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaFileError(path, "", "no such file; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaFileError(path, "", f"cannot be read ({exc})") from None
    return parse_schema(text, path)


def parse_schema(text: str, path: Path) -> ExtensionSchema:
    data: Any
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaFileError(
                path, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}"
            ) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SchemaFileError(path, "", f"not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise SchemaFileError(path, "", "the top level must be a table of extension groups")
    try:
        return ExtensionSchema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        message = first["msg"].removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise SchemaFileError(path, where, message) from None
