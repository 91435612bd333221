"""Send, verify and report: placeholders until part 2 of the studio, saying so instead of pretending."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cdp_poc_studio.ui.context import StudioContext
from cdp_poc_studio.ui.pages.base import Page

PART_2 = "Comes with part 2 of the studio."


class LaterPage(Page):
    available = False

    def __init__(self, context: StudioContext, title: str, what: str, cli_hint: str, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.title = title
        self.subtitle = PART_2
        layout = QVBoxLayout(self)
        notice = QLabel(
            f"<h3>Not available yet: {title.lower()}</h3>"
            f"<p>{what}</p>"
            f"<p><b>{PART_2}</b> Nothing on this page works yet, and nothing is sent from here.</p>"
            f"<p>Until then: {cli_hint}</p>"
        )
        notice.setObjectName("laterNotice")
        notice.setWordWrap(True)
        notice.setTextFormat(Qt.TextFormat.RichText)
        notice.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(notice)
        layout.addStretch(1)

    def validation_error(self) -> str | None:
        return PART_2


def send_page(context: StudioContext) -> LaterPage:
    return LaterPage(
        context,
        "Send",
        "A dry run showing the first batch lines or REST requests, then sending with progress per stage, a live "
        "console of requests and responses, cancel and resume.",
        "the design and mapping you make here are saved in the scenario, ready for sending.",
    )


def verify_page(context: StudioContext) -> LaterPage:
    return LaterPage(
        context,
        "Verify",
        "Read-back and audience export progress, the difference table grouped by cause, and each record's trace "
        "through every stage.",
        "the scenario's verify settings and thresholds are kept as they are in the file.",
    )


def report_page(context: StudioContext) -> LaterPage:
    return LaterPage(
        context,
        "Report",
        "Saving the HTML report and the evidence bundle, a summary for an email, and cleaning up what a run "
        "left in the target.",
        "reports are written by the round-trip pipeline from the command line.",
    )
