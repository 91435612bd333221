"""The locales the generator supports, with the country, nationality, language and currency each implies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class LocaleFacts:
    country: str
    nationality: str
    language: str
    currency: str


LOCALES: Final = {
    "en_US": LocaleFacts("US", "American", "EN", "USD"),
    "en_GB": LocaleFacts("GB", "British", "EN", "GBP"),
    "en_IE": LocaleFacts("IE", "Irish", "EN", "EUR"),
    "en_AU": LocaleFacts("AU", "Australian", "EN", "AUD"),
    "en_CA": LocaleFacts("CA", "Canadian", "EN", "CAD"),
    "de_DE": LocaleFacts("DE", "German", "DE", "EUR"),
    "fr_FR": LocaleFacts("FR", "French", "FR", "EUR"),
    "es_ES": LocaleFacts("ES", "Spanish", "ES", "EUR"),
    "it_IT": LocaleFacts("IT", "Italian", "IT", "EUR"),
    "nl_NL": LocaleFacts("NL", "Dutch", "NL", "EUR"),
    "pt_BR": LocaleFacts("BR", "Brazilian", "PT", "BRL"),
    "sv_SE": LocaleFacts("SE", "Swedish", "SV", "SEK"),
    "da_DK": LocaleFacts("DK", "Danish", "DA", "DKK"),
    "pl_PL": LocaleFacts("PL", "Polish", "PL", "PLN"),
    "ja_JP": LocaleFacts("JP", "Japanese", "JA", "JPY"),
}
