"""The integration point advisor: answers about the data flow in, a recommendation with reasons and limits out.

It follows Sitecore's guidance (see docs in the product brief): to take data out for activation, Audience
Export (the REST API can read, but is not meant for bulk extraction); to put data in, Batch for volume and
periodic loads, REST for immediate updates of a few records. Batch overwrites a guest's whole extension group;
REST can change one field of one extension but needs a request per guest, per extension, per order part.
Analytics and backups point to the Data Lake Export service, no-code connections to Sitecore Connect.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["load", "extract", "both"]
Frequency = Literal["once", "daily", "hourly", "continuous"]
Freshness = Literal["seconds", "minutes", "hours", "next_day"]
Purpose = Literal["activation", "analytics", "backup", "integration"]
LoadPoint = Literal["batch", "rest"]
PullPoint = Literal["rest", "export"]

# Above this many records in one go, per-guest REST calls (several per guest) stop being practical.
REST_VOLUME_CEILING = 5_000

LIMITS = {
    "batch-file": "Batch files are gzipped, one JSON file inside, at most 50 MB compressed; split larger loads "
    "and upload one file at a time.",
    "upload-url": "The pre-signed upload URL of a batch is valid for one hour.",
    "batch-history": "Batch uploads are visible for 30 days (status and error log).",
    "batch-overwrite": "A batch upsert replaces the whole extension group it names: send every key of the group, "
    "or use one group per source system.",
    "rest-requests": "REST needs a request per guest, per extension group, and for each order its contact, items "
    "and extensions.",
    "rest-partial": "REST can PATCH one field of one extension without touching the rest.",
    "extension-rules": "Extensions are flat: at most 100 primitive keys per group (50 for a batch order "
    "extension), alphanumeric camelCase, unique across a guest's groups; nested data must be flattened.",
    "snapshot": "Segments see a snapshot up to midnight UTC of the previous day: data uploaded today appears in "
    "exports from tomorrow.",
    "export-files": "Exports are gzipped JSON or CSV, one file per 500,000 records; delta exports split added and "
    "removed guests into separate files.",
    "export-retention": "Exports carry guest data extensions and recent orders only within CDP's retention caps.",
    "oauth": "The Audience export API uses OAuth client credentials; tokens last 24 hours.",
}


class AdvisorAnswers(BaseModel):
    """What the architect knows about the customer's data flow."""

    model_config = ConfigDict(extra="forbid")

    direction: Direction = "both"
    volume: int = Field(default=10_000, ge=0, description="records per load or extraction")
    frequency: Frequency = "daily"
    freshness: Freshness = "hours"
    partial_updates: bool = False
    purpose: Purpose = "activation"
    no_code: bool = False


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    load: LoadPoint
    pull_back: list[PullPoint]
    reasons: list[str]
    limits: list[str]
    elsewhere: list[str] = []


def advise(answers: AdvisorAnswers) -> Recommendation:
    """Recommend a loading and a pulling-back integration point, with the reasons and the limits that apply."""
    reasons: list[str] = []
    limits: list[str] = []
    elsewhere: list[str] = []

    realtime = answers.freshness in ("seconds", "minutes") or answers.frequency == "continuous"
    small = answers.volume <= REST_VOLUME_CEILING
    if answers.direction == "extract":
        reasons.append("Nothing is loaded: the PoC loads its own test data by batch, the path for volume.")
        load: LoadPoint = "batch"
    elif answers.partial_updates and small:
        load = "rest"
        reasons.append(
            "Single fields change: REST can PATCH one key of one extension, where a batch upsert "
            "replaces the whole extension group."
        )
    elif realtime and small:
        load = "rest"
        reasons.append("Records must reach CDP within minutes and there are few of them: REST writes each at once.")
    else:
        load = "batch"
        if not small:
            reasons.append(
                f"{answers.volume:,} records per load is volume: Batch updates many guests at once, "
                "where REST needs several requests per guest."
            )
        if answers.frequency in ("daily", "once", "hourly"):
            reasons.append("Periodic loads suit Batch: one file, one status, one error log per load.")
        if realtime:
            reasons.append(
                "Freshness within minutes was asked, but at this volume REST would not keep up; "
                "consider Batch for the bulk and REST for the few urgent updates."
            )
        if answers.partial_updates:
            reasons.append(
                "Partial updates were asked: Batch replaces whole extension groups, so send every key "
                "of a group, or give each source system its own group."
            )
    if load == "batch":
        limits += [
            LIMITS["batch-file"],
            LIMITS["upload-url"],
            LIMITS["batch-history"],
            LIMITS["batch-overwrite"],
        ]
    else:
        limits += [LIMITS["rest-requests"], LIMITS["rest-partial"]]
    limits.append(LIMITS["extension-rules"])

    pull_back: list[PullPoint] = ["rest"]
    reasons.append("The PoC reads guests back through REST at once, to check what CDP stored without waiting.")
    if answers.direction in ("extract", "both") and answers.purpose == "activation":
        pull_back.append("export")
        reasons.append(
            "Taking data out for activation is what Audience Export is for; the REST API can read, "
            "but is not meant for bulk extraction."
        )
        limits += [LIMITS["snapshot"], LIMITS["export-files"], LIMITS["export-retention"], LIMITS["oauth"]]
    if answers.purpose in ("analytics", "backup"):
        elsewhere.append(
            "For analytics or historical backup the right tool is the Data Lake Export service "
            "(daily Parquet files of the whole tenant), which is outside the studio."
        )
    if answers.no_code:
        elsewhere.append(
            "For no-code connections between systems, Sitecore Connect fits better; it is outside the studio."
        )
    return Recommendation(load=load, pull_back=pull_back, reasons=reasons, limits=limits, elsewhere=elsewhere)
