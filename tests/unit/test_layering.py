"""The pure packages stay pure: importing them never loads Qt (nor, for the domain, httpx or faker)."""

import subprocess
import sys

import pytest

PURE = {
    "cdp_poc_studio.domain": ("PySide6", "httpx", "faker", "orjson"),
    "cdp_poc_studio.generator": ("PySide6", "httpx"),
    "cdp_poc_studio.cdp": ("PySide6", "faker"),
    "cdp_poc_studio.roundtrip": ("PySide6",),
    "cdp_poc_studio.sandbox": (
        "PySide6",
        "faker",
        "cdp_poc_studio.domain",
        "cdp_poc_studio.cdp",
        "cdp_poc_studio.generator",
        "cdp_poc_studio.roundtrip",
    ),
}


@pytest.mark.parametrize(("package", "forbidden"), PURE.items())
def test_pure_package_does_not_load_forbidden_modules(package: str, forbidden: tuple[str, ...]) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        f"print(','.join(m for m in {forbidden!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{package} loaded {result.stdout.strip()}"
