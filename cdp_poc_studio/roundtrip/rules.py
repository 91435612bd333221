"""The verification rules of docs/verification.md, by id: what each outcome that is not plain equality rests on.

Every difference and every normalised pass in a report names one of these rules, so a reader can see why the
verifier judged as it did and check the evidence. docs/verification.md is the text; this table is what the code
uses, and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RuleKind = Literal["normalisation", "explained", "difference"]
DOC = "docs/verification.md"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: RuleKind
    title: str
    source: str  # the evidence: a section of the CDP reference or a documented example

    @property
    def anchor(self) -> str:
        """The heading anchor of the rule in docs/verification.md (GitHub style: lowercase, spaces to dashes)."""
        return self.id.lower()

    @property
    def link(self) -> str:
        return f"{DOC}#{self.anchor}"


_ALL = (
    # Normalisations: CDP may write the value in another form; the value is the same.
    Rule(
        "N-DATETIME",
        "normalisation",
        "a date-time attribute may come back as the same instant in another ISO 8601 form",
        "cdp-api-facts.md §3.5 (passportExpiry 2033-01-01T00:00Z echoed as 2033-01-01T00:00:00.000Z), §6.7",
    ),
    Rule(
        "N-NUMBER",
        "normalisation",
        "an order or order item price may come back as the same number written as an integer or a decimal",
        "cdp-api-facts.md §6.8 (official example: price 100 and 100.00 for the same amount); RFC 8259 §6",
    ),
    Rule(
        "N-IDENTIFIERS-ORDER",
        "normalisation",
        "a guest's identifiers may come back in another order (an identity is a set of provider and id pairs)",
        "cdp-api-facts.md §3.2 (identifiers matched as exact provider+id pairs), §6.7 [inferred]",
    ),
    Rule(
        "N-CONSUMERS-ORDER",
        "normalisation",
        "an order's consumers are a set: compared in name order on both sides, not in CDP's listing order",
        "cdp-api-facts.md §5.5 (consumers added one by one to an order; no listing order documented) [inferred]",
    ),
    Rule(
        "N-DECISION-DATE",
        "normalisation",
        "a leaf read by a decision accessor of return type Date comes back as the same day as an ISO date-time",
        "cdp-api-facts.md §12 (decision return types: String, Boolean, Integer, Long, Date, Map)",
    ),
    Rule(
        "N-CSV-TEXT",
        "normalisation",
        "a CSV export cell holds the text form of a number, boolean, list or object; read as the sent type",
        "cdp-api-facts.md §7.1 (Basic mode CSV output), §7.3 (record shape is the sandbox's choice)",
    ),
    # Explained: CDP's own semantics; neither a pass nor a failure.
    Rule(
        "X-REJECTED",
        "explained",
        "a record CDP rejected at upload counts as rejected wherever it reappears (REST, export, order contacts)",
        "cdp-api-facts.md §6.5 (batch error log), §2.3 (REST error body)",
    ),
    Rule(
        "X-SNAPSHOT",
        "explained",
        "data sent today is in segments (and exports) from the next day's snapshot on",
        "cdp-api-facts.md §7.1 (snapshot up to midnight UTC of the previous day)",
    ),
    Rule(
        "X-ORDERS-20",
        "explained",
        "an audience export carries a guest's last 20 orders by orderedAt, whatever their age",
        "cdp-api-facts.md §7.4 (data availability: audience export)",
    ),
    Rule(
        "X-ITEMS-100",
        "explained",
        "an audience export carries up to 100 order items per order",
        "cdp-api-facts.md §7.4 (data availability: audience export)",
    ),
    Rule(
        "X-EXTENSIONS-600",
        "explained",
        "an audience export carries the last 600 guest data extensions",
        "cdp-api-facts.md §7.4 (data availability: audience export)",
    ),
    Rule(
        "X-DELTA",
        "explained",
        "a delta export holds only guests added to or removed from the audience since the previous run",
        "cdp-api-facts.md §7.1 (delta exports), §7.2 (deltaAction add / remove)",
    ),
    # Differences: each a failure with its own classification.
    Rule("D-EXACT", "difference", "everything not covered by a rule above must come back exactly, type included", DOC),
    Rule("D-RECORD-MISSING", "difference", "a sent record did not come back", DOC),
    Rule("D-FIELD-MISSING", "difference", "a sent field (attribute, extension key, nested value) is not back", DOC),
    Rule("D-VALUE-CHANGED", "difference", "a field came back with another value", DOC),
    Rule("D-TYPE-CHANGED", "difference", "a field came back with another JSON type (true is not 1)", DOC),
    Rule("D-EXTRA-RECORD", "difference", "a record of this run came back that was not sent", DOC),
    Rule(
        "D-EXTRA-FIELD",
        "difference",
        "a field came back that was not sent (an attribute, an extension key, a value inside a JSON field)",
        DOC,
    ),
    Rule("D-EXTRA-ORDER", "difference", "an order came back on a guest that was not sent for it", DOC),
    Rule("D-EXTRA-ITEM", "difference", "an order item came back on an order that was not sent for it", DOC),
    Rule("D-DUPLICATE", "difference", "more than one CDP guest holds one sent identity", "cdp-api-facts.md §3.3"),
    Rule("D-RELINKED", "difference", "an order came back linked to another guest than the one it was sent for", DOC),
    Rule(
        "D-MAPPING-ERROR",
        "difference",
        "a sent value is missing and exactly one unexpected key holds it with the same type and value",
        DOC,
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _ALL}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
