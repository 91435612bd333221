"""The integration point advisor follows Sitecore's guidance."""

import pytest

from cdp_poc_studio.roundtrip.advisor import AdvisorAnswers, advise


@pytest.mark.parametrize(
    ("answers", "load", "pull_back"),
    [
        (AdvisorAnswers(volume=1_000_000, frequency="daily"), "batch", ["rest", "export"]),
        (AdvisorAnswers(volume=200, freshness="seconds", direction="load"), "rest", ["rest"]),
        (AdvisorAnswers(volume=50, partial_updates=True), "rest", ["rest", "export"]),
        (AdvisorAnswers(volume=50_000, partial_updates=True), "batch", ["rest", "export"]),
        (AdvisorAnswers(direction="extract", volume=10), "batch", ["rest", "export"]),
    ],
)
def test_recommendation(answers: AdvisorAnswers, load: str, pull_back: list[str]) -> None:
    recommendation = advise(answers)
    assert recommendation.load == load
    assert recommendation.pull_back == pull_back
    assert recommendation.reasons


def test_batch_states_its_limits_and_overwrite_semantics() -> None:
    text = " ".join(advise(AdvisorAnswers(volume=100_000)).limits)
    for fact in ("50 MB", "one hour", "30 days", "replaces the whole extension group", "midnight UTC"):
        assert fact in text


def test_partial_updates_at_volume_warn_about_whole_group_overwrite() -> None:
    reasons = " ".join(advise(AdvisorAnswers(volume=100_000, partial_updates=True)).reasons)
    assert "replaces whole extension groups" in reasons


def test_analytics_and_no_code_point_outside_the_studio() -> None:
    elsewhere = " ".join(advise(AdvisorAnswers(purpose="analytics", no_code=True)).elsewhere)
    assert "Data Lake Export" in elsewhere
    assert "Sitecore Connect" in elsewhere
