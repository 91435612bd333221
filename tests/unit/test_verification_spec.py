"""docs/verification.md and the rule table the verifier uses say the same thing."""

import re
from pathlib import Path

from cdp_poc_studio.roundtrip.normalise import OUTCOME_RULES
from cdp_poc_studio.roundtrip.rules import RULES

SPEC = Path(__file__).parents[2] / "docs" / "verification.md"


def test_every_rule_has_its_section_and_every_section_its_rule() -> None:
    headings = re.findall(r"^### ([A-Z0-9-]+)$", SPEC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert headings == list(RULES)


def test_every_outcome_rule_is_in_the_spec() -> None:
    assert set(OUTCOME_RULES.values()) <= set(RULES)


def test_rules_name_their_evidence() -> None:
    for rule in RULES.values():
        if rule.kind != "difference":
            assert "cdp-api-facts.md §" in rule.source, rule.id
        assert rule.link == f"docs/verification.md#{rule.id.lower()}"
