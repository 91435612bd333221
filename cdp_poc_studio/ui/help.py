"""What F1 shows for each step: what the step does, the rules of CDP it checks, and links into the reference."""

from __future__ import annotations

from dataclasses import dataclass

DOCS = "https://doc.sitecore.com/cdp/en/developers/api"
USERS = "https://doc.sitecore.com/cdp/en/users/sitecore-cdp"


@dataclass(frozen=True)
class StepHelp:
    does: str
    rules: tuple[str, ...]
    links: tuple[tuple[str, str], ...]

    def html(self, number: int, title: str) -> str:
        rules = "".join(f"<li>{rule}</li>" for rule in self.rules)
        links = "".join(f'<li><a href="{url}">{label}</a></li>' for label, url in self.links)
        return (f"<h3>{number}. {title}</h3><p>{self.does}</p><h4>CDP's rules this step checks</h4><ul>{rules}</ul>"
                f"<h4>In the reference</h4><ul>{links}</ul>"
                "<p><i>F1 shows the help of the step you are on; F12 the request console.</i></p>")  # fmt: skip


STEP_HELP: dict[str, StepHelp] = {
    "Connect": StepHelp(
        "Chooses where the PoC sends data: the embedded sandbox (a local process, offline) or a customer's tenant "
        "by region or URL. Test connection checks each credential on its own API, with a time limit and Cancel.",
        (
            "REST and Batch take HTTP Basic auth: the client key and the API token.",
            "Audience export takes an OAuth bearer token from the auth host (client id and secret).",
            "Each region has its own API host (EU, US, AP, JPE); a tenant answers only on its own.",
        ),
        (
            (
                "Authentication for the Batch API",
                "https://doc.sitecore.com/cdp/en/developers/sitecore-customer-data-platform--data-model-2-1/"
                "authentication-for-sitecore-cdp-batch-api.html",
            ),
            ("Guest REST API", f"{DOCS}/guest-rest-api.html"),
        ),
    ),
    "Choose the integration point": StepHelp(
        "Chooses how the data goes in (Batch files or REST requests) and how it comes back (REST read-back, "
        "Audience Export, or both), with advice from a few questions about the customer.",
        (
            "Batch loads are gzipped files of one JSON record per line, processed asynchronously.",
            "Audience exports see data from the nightly segment snapshot, not at once.",
        ),
        (
            (
                "Work with batch uploads",
                f"{USERS}/work-with-batch-uploads.html",
            ),
            ("Batch file formatting", f"{DOCS}/batch-file-formatting-requirements.html"),
        ),
    ),
    "Design data": StepHelp(
        "Sets how many guests, orders and items are generated, and the extension schema: the customer's own fields, "
        "nested as they are, with a live preview of the records and of the keys CDP stores.",
        (
            "Extension keys are alphanumeric camelCase; nested fields are flattened to one key each.",
            "A guest has at most 100 extension keys per group; keys must be unique across a guest's groups.",
            "Values are strings, numbers or booleans once flattened; dates are ISO 8601.",
        ),
        (
            ("Guest extension data model", f"{DOCS}/guest-extension-data-model.html"),
            ("Send additional guest data", f"{DOCS}/send-additional-guest-data.html"),
        ),
    ),
    "Map fields": StepHelp(
        "Says which generated (or imported) field goes where in CDP, and shows the exact batch line or request.",
        (
            "Guest fields such as email, firstName and country have CDP's own formats (country: ISO 3166 alpha-2).",
            "Identifiers need a provider and an id; orders need a referenceId, a currency and an orderedAt date.",
        ),
        (
            ("Guest data model", f"{DOCS}/guest-data-model.html"),
            ("Order data model", f"{DOCS}/order-data-model.html"),
        ),
    ),
    "Send": StepHelp(
        "A dry run first shows exactly what will go; then the run sends, with progress per stage, a live chart, "
        "Cancel and resume (nothing is sent twice). The Errors tab lists rejected records and retried HTTP errors.",
        (
            "Batch files are allocated, uploaded to a presigned URL (valid one hour) and polled until processed.",
            "Rejected records are in the batch's error log, by line; 429 and 5xx answers are retried with back-off.",
        ),
        (
            ("Upload a batch file", f"{DOCS}/upload-batch-file.html"),
            ("Retrieve the batch error log", f"{DOCS}/retrieve-batch-upload-error-log.html"),
        ),
    ),
    "Verify": StepHelp(
        "Compares what came back with what was sent, field by field, grouped by cause; each record has its trace. "
        "Explained differences (retention, snapshot, delta) are CDP's own rules, not failures.",
        (
            "Exports keep the last 20 orders of a guest; segments see data from the nightly snapshot.",
            "Values come back normalised (case of enums, dates in UTC); such values count as equal.",
        ),
        (
            ("Data in the export", f"{USERS}/data-in-the-export.html"),
            (
                "Data availability",
                f"{USERS}/data-availability-in-sitecore-cdp.html",
            ),
        ),
    ),
    "Report": StepHelp(
        "The HTML report, the evidence bundle (the whole run folder), a summary for an email, snippets for the "
        "customer's developers, and clean-up of what the run created.",
        ("The report never holds a secret; the run folder is the single source of every figure.",),
        (("Guest REST API", f"{DOCS}/guest-rest-api.html"),),
    ),
}


def step_help(number: int, title: str) -> str:
    help_ = STEP_HELP.get(title)
    if help_ is None:
        return f"<h3>{number}. {title}</h3>"
    return help_.html(number, title)
