"""The bundled resources (scenarios, schemas, samples, report templates, hand-off files), found through
importlib.resources so they work from a checkout and from an installed wheel alike.

An installed wheel is unpacked on disk, so the package's resources are a real folder; the constants are Paths
for the callers that glob and read them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

RESOURCES = Path(str(files(__name__)))
SCENARIOS = RESOURCES / "scenarios"
SCHEMAS = RESOURCES / "schemas"
SAMPLES = RESOURCES / "samples"
TEMPLATES = RESOURCES / "templates"
