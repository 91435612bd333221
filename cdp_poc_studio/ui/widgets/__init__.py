"""Reusable widgets: the JSON tree, the banner."""
