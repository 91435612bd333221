"""CDP's documented limits, in one place (cdp-api-facts.md §4, §6, §8)."""

from __future__ import annotations

from typing import Final

GUEST_EXTENSION_NAMES: Final = ("ext", "ext1", "ext2", "ext3", "ext4", "ext5")
ORDER_EXTENSION_NAME: Final = "ext"
EXTENSION_KEY_DEFAULT: Final = "default"

MAX_EXTENSION_KEYS: Final = 100
# Keys of the extension resource's envelope and its parent links (facts §4.1, §5.7): a data key of the same name
# would overwrite the envelope on write or vanish from the data on read-back.
RESERVED_EXTENSION_KEYS: Final = frozenset(
    {"name", "key", "ref", "href", "createdAt", "modifiedAt", "guest", "order", "orderItem"}
)
# Batch order and order item extensions take at most 50 attributes; REST allows 100.
MAX_BATCH_ORDER_EXTENSION_KEYS: Final = 50
MAX_ORDER_ITEM_NAME_LENGTH: Final = 128

MAX_BATCH_FILE_BYTES: Final = 50 * 1024 * 1024
UPLOAD_URL_VALID_SECONDS: Final = 3600
BATCH_HISTORY_DAYS: Final = 30
EXPORT_RECORDS_PER_FILE: Final = 500_000
OAUTH_TOKEN_SECONDS: Final = 86_400
REST_PAGE_LIMIT_MIN: Final = 10
REST_PAGE_LIMIT_MAX: Final = 100

GUEST_TYPES: Final = ("visitor", "customer", "traveller")
GENDERS: Final = ("male", "female", "unknown")
ORDER_CHANNELS: Final = (
    "WEB",
    "MOBILE_WEB",
    "MOBILE_APP",
    "CALL_CENTER",
    "AIRPORT_KIOSK",
    "BRANCH",
    "KIOSK",
    "OFFLINE",
    "GDS",
    "OTA",
    "OTHER",
)
# As the Order REST API spells them, "PARTIALY" included.
ORDER_STATUSES: Final = (
    "BROWSED",
    "CANCELLED",
    "CONFIRMED",
    "DECLINED",
    "PARTIALY_CONFIRMED",
    "PARTIALY_REFUNDED",
    "PAYMENT_PENDING",
    "PENDING",
    "PURCHASED",
    "REFUNDED",
    "RESERVED",
    "SEARCHED",
    "UNKNOWN",
)
PAYMENT_TYPES: Final = ("Card", "Paypal", "Voucher", "ATM", "Cash", "Other")
BATCH_SCHEMAS: Final = ("guest", "order")
BATCH_MODES: Final = ("insert", "create", "upsert", "merge", "delete", "gdpr_delete")
