"""Connection profiles: where CDP is (sandbox, a tenant's region, or a custom URL) and how to talk to it.

A profile holds no secret; those come from a `SecretStore` (see `secrets.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_TOKEN_URL = "https://auth.sitecorecloud.io/oauth/token"
DEFAULT_AUDIENCE = "https://api.sitecorecloud.io"


class Region(StrEnum):
    EU = "EU"
    US = "US"
    AP = "AP"
    JPE = "JPE"


# The documented production hosts (cdp-api-facts.md §0); REST, Batch and Audience export share them.
REGION_BASE_URLS: dict[Region, str] = {
    Region.EU: "https://api-engage-eu.sitecorecloud.io",
    Region.US: "https://api-engage-us.sitecorecloud.io",
    Region.AP: "https://api-engage-ap.sitecorecloud.io",
    Region.JPE: "https://api-engage-jpe.sitecorecloud.io",
}


class Timeouts(BaseModel):
    """Seconds. Uploads of 50 MB files need a generous write timeout on slow links."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connect: float = Field(default=10.0, gt=0)
    read: float = Field(default=60.0, gt=0)
    write: float = Field(default=300.0, gt=0)
    pool: float = Field(default=30.0, gt=0)


class ConnectionProfile(BaseModel):
    """One target: `sandbox`, `tenant` (by region) or `custom` (any base URL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: Literal["sandbox", "tenant", "custom"]
    region: Region | None = None
    base_url: str | None = None
    token_url: str | None = None
    audience: str = DEFAULT_AUDIENCE
    timeouts: Timeouts = Timeouts()
    # Connections kept to the API host; the REST sender's concurrency should not exceed it.
    max_connections: int = Field(default=64, ge=1, le=512)
    verify_tls: bool = True
    # A PEM file of certificates to trust besides the system's: a TLS sandbox's self-signed certificate
    # (`sandbox --tls` prints its path). Verification stays on.
    ca_file: str | None = None

    @model_validator(mode="after")
    def _check_target(self) -> Self:
        if self.kind == "tenant" and self.region is None:
            raise ValueError("a tenant profile needs a region (EU, US, AP or JPE)")
        if self.kind in ("sandbox", "custom") and not self.base_url:
            raise ValueError(f"a {self.kind} profile needs a base URL")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("the base URL must start with http:// or https://")
        return self

    @classmethod
    def sandbox(cls, base_url: str, name: str = "sandbox", *, ca_file: str | None = None) -> ConnectionProfile:
        return cls(name=name, kind="sandbox", base_url=base_url.rstrip("/"), ca_file=ca_file)

    @classmethod
    def tenant(cls, region: Region | str, name: str | None = None) -> ConnectionProfile:
        region = Region(region)
        return cls(name=name or f"tenant-{region.value.lower()}", kind="tenant", region=region)

    @classmethod
    def custom(cls, base_url: str, name: str = "custom", token_url: str | None = None) -> ConnectionProfile:
        return cls(name=name, kind="custom", base_url=base_url.rstrip("/"), token_url=token_url)

    @property
    def api_base_url(self) -> str:
        if self.kind == "tenant":
            assert self.region is not None
            return REGION_BASE_URLS[self.region]
        assert self.base_url is not None
        return self.base_url.rstrip("/")

    @property
    def oauth_token_url(self) -> str:
        if self.token_url:
            return self.token_url
        # The sandbox is its own authorisation server; a real tenant uses Sitecore's.
        if self.kind == "sandbox":
            return f"{self.api_base_url}/oauth/token"
        return DEFAULT_TOKEN_URL
