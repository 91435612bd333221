"""The domain models read and write exactly CDP's wire format, checked against the reference's examples."""

import pytest

from cdp_poc_studio.domain.batch import BatchRecord
from cdp_poc_studio.domain.guest import DataExtension, Guest
from cdp_poc_studio.domain.order import Order, OrderItem
from tests.helpers.doc_examples import DOC_GUEST, DOC_ORDER

# Request bodies from cdp-api-facts.md (§4.1 extension, §5.6 item, §6.7, §6.8); §3.5 and §5.3 in doc_examples.
EXTENSION = {
    "name": "ext",
    "key": "default",
    "vipMember": True,
    "loyaltyTier": "level2",
    "rewardBalance": 5012.25,
    "loyaltyNumber": 3452,
}
ITEM = {
    "name": "NYC-PAR Flight",
    "description": "Flight from New York City to Paris",
    "type": "Flight Item",
    "productId": "FL44124",
    "price": 105,
    "currencyCode": "EUR",
    "originalPrice": 110,
    "originalCurrencyCode": "USD",
    "referenceId": "O62455331",
    "vendor": "Travel Agency",
    "status": "Confirmed",
    "language": "EN",
    "quantity": 1,
    "channel": "WEB",
}
BATCH_GUEST = {
    "ref": "9d94ee11-7043-4b71-980c-a777d00a7b46",
    "schema": "guest",
    "mode": "upsert",
    "value": {
        "guestType": "customer",
        "firstSeen": "2025-03-07T16:15:11.000Z",
        "lastSeen": "2025-08-23T16:17:16.000Z",
        "title": "Mr",
        "firstName": "John",
        "lastName": "Does",
        "gender": "male",
        "dateOfBirth": "1985-12-24T00:00Z",
        "email": "john.does@example.com",
        "nationality": "Irish",
        "street": ["Apartment 15", "West Drive Avenue"],
        "city": "Dublin",
        "country": "IE",
        "postCode": "D2",
        "state": "Dublin",
        "identifiers": [
            {
                "provider": "SITECORE_IDENTITY_SYSTEM",
                "id": "B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41",
                "expiryDate": "2025-08-23T16:17:16.000Z",
            }
        ],
    },
}
BATCH_ORDER = {
    "ref": "056621C2-C955-492D-B7EE-C77C6BDDFDEE",
    "schema": "order",
    "mode": "insert",
    "value": {
        "referenceId": "BET_001-1",
        "channel": "WEB",
        "pointOfSale": "spinbet.com",
        "status": "PURCHASED",
        "orderedAt": "2025-03-07T16:15:11.000Z",
        "currencyCode": "EUR",
        "price": 100,
        "paymentType": "Card",
        "cardType": "Visa",
        "extensions": [{"name": "ext", "key": "default", "promotion": "freeBet", "withdrawAllowed": "no"}],
        "contact": {
            "identifiers": [
                {
                    "provider": "CRM",
                    "id": "B7524AE6-CF1C-440F-B1A2-0C9D42F5CB41",
                    "expiryDate": "2025-08-23T16:17:16.000Z",
                },
                {"provider": "CRM", "id": "123456789t"},
            ]
        },
        "orderItems": [
            {
                "type": "90_EXACT",
                "productId": "CORRECT_SCORE",
                "name": "Exact score after 90 minutes",
                "description": "footballBets",
                "vendor": "Company ABC",
                "orderedAt": "2025-03-07T16:15:11.000Z",
                "quantity": 1,
                "price": 100.00,
                "currencyCode": "EUR",
                "originalPrice": 100.00,
                "originalCurrencyCode": "EUR",
                "referenceId": "BET_001-1",
                "status": "PURCHASED",
            }
        ],
    },
}


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (Guest, DOC_GUEST),
        (Guest, BATCH_GUEST["value"]),
        (DataExtension, EXTENSION),
        (Order, DOC_ORDER),
        (OrderItem, ITEM),
        (Order, BATCH_ORDER["value"]),
    ],
    ids=["guest-create", "batch-guest", "extension", "order", "order-item", "batch-order"],
)
def test_reference_example_round_trips_exactly(model: type, payload: dict) -> None:
    parsed = model.model_validate(payload)
    assert parsed.to_wire() == payload


def test_snake_case_attributes_serialise_as_camel_case() -> None:
    guest = Guest(guest_type="customer", first_name="Jane", post_code="D2", date_of_birth="1976-10-28T00:00Z")
    assert guest.to_wire() == {
        "guestType": "customer",
        "firstName": "Jane",
        "postCode": "D2",
        "dateOfBirth": "1976-10-28T00:00Z",
    }


def test_extension_values_are_written_flat_beside_name_and_key() -> None:
    extension = DataExtension(name="ext2", values={"tier": "gold", "points": 3})
    assert extension.to_wire() == {"name": "ext2", "key": "default", "tier": "gold", "points": 3}


@pytest.mark.parametrize("line", [BATCH_GUEST, BATCH_ORDER], ids=["guest", "order"])
def test_batch_envelope_round_trips(line: dict) -> None:
    assert BatchRecord.from_wire(line).to_wire() == line


def test_unknown_guest_attribute_is_rejected() -> None:
    with pytest.raises(ValueError, match="firstname"):
        Guest.model_validate({"guestType": "customer", "firstname": "lowercase n is not CDP's"})
