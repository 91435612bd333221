"""Benchmarks: run on demand with `pytest tests/benchmarks -s`; they print figures and assert no timings."""

import resource
import sys


def peak_rss_mb_of_children() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def report(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n== {title}", file=sys.stderr)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}", file=sys.stderr)
