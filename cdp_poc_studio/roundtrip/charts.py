"""Small inline SVG charts for the HTML report: no JavaScript library, no network."""

from __future__ import annotations

from html import escape

PASS_COLOUR = "#2e7d32"
FAIL_COLOUR = "#c62828"
PALETTE = ("#1565c0", "#c62828", "#ef6c00", "#6a1b9a", "#00838f", "#9e9d24", "#5d4037", "#455a64", "#ad1457")


def stacked_bars(rows: list[tuple[str, int, int]], *, width: int = 720, row_height: int = 18) -> str:
    """One horizontal bar per row, passes in green then failures in red: `(label, passed, failed)`."""
    if not rows:
        return ""
    label_width = min(320, 7 * max(len(label) for label, _, _ in rows) + 10)
    bar_width = width - label_width - 70
    height = row_height * len(rows) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'class="chart" aria-label="pass and fail by field">'
    ]
    for index, (label, passed, failed) in enumerate(rows):
        y = index * row_height + 2
        total = passed + failed or 1
        good = bar_width * passed / total
        parts.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{good:.1f}" height="{row_height - 4}" '
            f'fill="{PASS_COLOUR}"><title>{passed} passed</title></rect>'
        )
        if failed:
            parts.append(
                f'<rect x="{label_width + good:.1f}" y="{y}" width="{bar_width - good:.1f}" '
                f'height="{row_height - 4}" fill="{FAIL_COLOUR}"><title>{failed} failed</title></rect>'
            )
        parts.append(f'<text x="{label_width + bar_width + 6}" y="{y + 12}">{passed}/{passed + failed}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars(rows: list[tuple[str, float]], *, unit: str = "", width: int = 720, row_height: int = 20) -> str:
    """Plain horizontal bars, one colour each: `(label, value)`."""
    if not rows:
        return ""
    label_width = min(320, 7 * max(len(label) for label, _ in rows) + 10)
    bar_width = width - label_width - 90
    top = max(value for _, value in rows) or 1
    height = row_height * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" class="chart">']
    for index, (label, value) in enumerate(rows):
        y = index * row_height + 2
        length = bar_width * value / top
        colour = PALETTE[index % len(PALETTE)]
        shown = f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{row_height - 5}" fill="{colour}"></rect>'
        )
        parts.append(f'<text x="{label_width + length + 6}" y="{y + 13}">{shown}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
