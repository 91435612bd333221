"""Where the bundled resources (scenarios, schemas, report templates) live."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent
SCENARIOS = RESOURCES / "scenarios"
SCHEMAS = RESOURCES / "schemas"
TEMPLATES = RESOURCES / "templates"
