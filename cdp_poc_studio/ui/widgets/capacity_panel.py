"""The advisor's capacity estimate: how long a full load of the answered volume takes by Batch and by REST."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from cdp_poc_studio.roundtrip.capacity import CapacityPlan, duration, plan


class CapacityPanel(QGroupBox):
    """A short capacity plan (roundtrip.capacity) from assumed figures; `cdp-poc-studio plan --from` measures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How long would a full load take?", parent)
        self.setObjectName("capacityPanel")
        self.plan: CapacityPlan | None = None
        self.text = QLabel()
        self.text.setObjectName("capacityText")
        self.text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)

    def show_volume(self, guests: int) -> None:
        if guests < 1:
            self.plan = None
            self.text.setText("Enter the records per load to estimate a full load.")
            return
        self.plan = result = plan(guests)
        batch, rest = result.batch, result.rest
        self.text.setText(
            f"{guests:,} guests with their orders: <b>{result.choice.upper()}</b>. "
            f"Batch {duration(batch.seconds)} ({int(batch.detail['files of 50 MB'])} file(s) of 50 MB), "
            f"REST {duration(rest.seconds)} ({rest.requests:,} requests); Sitecore's migration guidance of "
            f"200,000 guests a day: {result.guidance_days:,.2f} day(s). From assumed figures (the report of a run "
            "measures them; <code>cdp-poc-studio plan --from RUN</code> takes your tenant's)."
        )
