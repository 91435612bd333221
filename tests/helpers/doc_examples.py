"""Request bodies of the official docs' examples (cdp-api-facts.md), shared by the tests that replay them."""

from __future__ import annotations

from typing import Any

# Guest create (facts §3.5, the legacy page's example).
DOC_GUEST: dict[str, Any] = {
    "guestType": "customer",
    "title": "Ms",
    "firstName": "Jane",
    "lastName": "Doe",
    "gender": "female",
    "dateOfBirth": "1976-10-28T00:00:00.000Z",
    "emails": ["jane.doe@example.com"],
    "phoneNumbers": ["0851234567"],
    "nationality": "Irish",
    "passportNumber": "PZ4A9565",
    "passportExpiry": "2033-01-01T00:00Z",
    "street": ["Apartment 15", "West Drive Avenue"],
    "city": "Dublin",
    "country": "IE",
    "postCode": "D2",
    "state": "Dublin",
}
# Order create (facts §5.3, create-an-order--legacy-).
DOC_ORDER: dict[str, Any] = {
    "pointOfSale": "spinair.com/france",
    "channel": "WEB",
    "currencyCode": "EUR",
    "price": 12,
    "orderedAt": "2025-12-19T12:07:18.149Z",
    "referenceId": "B94TXY-1",
    "paymentType": "Card",
    "cardType": "Visa",
    "status": "PURCHASED",
}
