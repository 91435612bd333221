"""Shared test set-up. Qt runs offscreen; this must happen before anything imports Qt."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

# The one sandbox fixture and the shared data fixtures (schema, connection, target).
pytest_plugins = ["tests.helpers.fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/drills is a multi-minute drill: `make check-fast` skips them, `make test` runs them."""
    for item in items:
        if "drills" in item.path.parts:
            item.add_marker(pytest.mark.drill)
