"""The layers hold when the code runs, as import-linter checks them statically (pyproject.toml):
`cli : app > ui > workers > roundtrip > targets > cdp | generator > domain`; Qt only in ui/, workers/ and app.py;
the sandbox independent of the client side. Importing a package never loads a layer above it."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
P = "cdp_poc_studio."
ABOVE = {
    "domain": ("generator", "cdp", "targets", "roundtrip", "workers", "ui", "app", "cli"),
    "generator": ("cdp", "targets", "roundtrip", "workers", "ui", "app", "cli"),
    "cdp": ("generator", "targets", "roundtrip", "workers", "ui", "app", "cli"),
    "targets": ("roundtrip", "workers", "ui", "app", "cli"),
    "roundtrip": ("workers", "ui", "app", "cli"),
    "workers": ("ui", "app", "cli"),
    "cli": ("ui", "app"),  # only `cli gui` opens the studio, inside the command
}
EXTERNAL = {
    "domain": ("PySide6", "httpx", "faker", "orjson"),
    "generator": ("PySide6", "httpx"),
    "cdp": ("PySide6", "faker"),
    "targets": ("PySide6",),
    "roundtrip": ("PySide6",),
    "cli": ("PySide6",),
    "sandbox": ("PySide6", "faker"),
}
CLIENT_SIDE = ("domain", "generator", "cdp", "targets", "roundtrip", "workers", "ui", "app", "cli")
FORBIDDEN = {package: tuple(P + m for m in ABOVE.get(package, ())) + EXTERNAL.get(package, ()) for package in EXTERNAL}
FORBIDDEN["sandbox"] += tuple(P + m for m in CLIENT_SIDE)
FORBIDDEN["workers"] = tuple(P + m for m in ABOVE["workers"])


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN.items())
def test_importing_a_package_loads_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({P + package!r})\n"
        "for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(','.join(m for m in {forbidden!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{package} loaded {result.stdout.strip()}"


def test_no_test_module_imports_another_folders_conftest() -> None:
    """Test code shared between folders lives in tests/helpers; a conftest serves its own folder."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".conftest"):
                offenders.append(f"{path.relative_to(ROOT)}: from {node.module}")
    assert not offenders
