"""How a sent record is found again in what CDP returns: one join key per guest and per order.

A guest is joined by its first identifier, `provider:id`, the identity CDP itself resolves guests by. A guest sent
without identifiers is joined by `email:<address>`; the prefix keeps the two kinds of key from ever colliding.
The ledger, the run folder's lines and verification all use these functions, so a key written at send time
is the key looked up at verification time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def identifier_key(provider: object, identifier: object) -> str:
    return f"{provider}:{identifier}"


def email_key(email: object) -> str:
    return f"email:{email}"


def guest_key(guest: Mapping[str, Any]) -> str:
    """The join key of a guest body (a REST guest, a batch record's `value`): its first identifier, else its
    email; "" for a guest that has neither and so cannot be found again."""
    identifiers = guest.get("identifiers") or []
    if identifiers:
        return identifier_key(identifiers[0]["provider"], identifiers[0]["id"])
    email = guest.get("email")
    return email_key(email) if email else ""


def order_key(order: Mapping[str, Any]) -> str:
    """The join key of an order body: its referenceId, unique per order in CDP."""
    return str(order.get("referenceId", ""))
