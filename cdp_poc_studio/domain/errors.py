"""Everything that can go wrong talking to CDP, as one typed tree; callers catch families, never status codes.

    CdpError
    ├── CdpConfigError                  a profile or a secret is missing or unusable; nothing was sent
    │   ├── MissingSecret               a credential is not set anywhere
    │   └── SecretStoreUnavailable      no OS keyring on this machine (headless Linux)
    ├── CdpTransportError               no usable response: refused, reset, timed out, dropped
    ├── CdpApiError                     CDP answered with an error body (status, code, message, developer_message)
    │   ├── CdpAuthError                401 / 403: a credential is wrong or lacks the permission
    │   ├── CdpNotFound                 404
    │   ├── CdpValidationError          400 / 415 / 422: the request was rejected, do not retry it as is
    │   ├── CdpConflict                 409: e.g. a data extension of that name exists
    │   ├── CdpRateLimited              429: slow down; `retry_after` seconds when CDP said so
    │   ├── CdpServerError              5xx: CDP's side; safe to retry idempotent calls
    │   └── PresignedUrlExpired         an upload, log or export URL is past its expiry (S3 403)
    └── BatchError                      a batch file did not go through
        ├── BatchCorrupted              size or MD5 did not match the allocation
        ├── BatchFailed                 status `error` without a log, or an unexpected end state
        └── BatchTimeout                no final status within the polling budget

Messages never contain secrets: URLs are stored with pre-signed signatures masked, and bodies are not kept.
"""

# The names follow the house style (BatchCorrupted, CdpNotFound ...), read as events, not "...Error".
# ruff: noqa: N818

from __future__ import annotations

from typing import Any


class CdpError(Exception):
    """The root: anything the CDP clients raise on purpose."""

    @property
    def retryable(self) -> bool:
        return False


class CdpConfigError(CdpError):
    """A profile or secret problem found before sending anything. The message says what to do."""


class MissingSecret(CdpConfigError):
    def __init__(self, name: str, env_var: str) -> None:
        super().__init__(
            f"the {name} is not set: store it in the OS keyring from the connection page, "
            f"or set {env_var} in the environment"
        )
        self.name = name
        self.env_var = env_var


class SecretStoreUnavailable(CdpConfigError):
    """The OS keyring cannot be used (on headless Linux there is none)."""


class CdpTransportError(CdpError):
    """No usable HTTP response: the connection was refused, reset, timed out or dropped mid-response.

    `maybe_sent` is True when the server may have received (and acted on) the request, so a create must be
    checked before it is retried.
    """

    def __init__(
        self, message: str, *, method: str = "", url: str = "", maybe_sent: bool = True, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.maybe_sent = maybe_sent
        # The host accepted or was slow but gave no answer in time (as opposed to refusing the connection).
        self.timed_out = timed_out

    @property
    def retryable(self) -> bool:
        return True


class CdpApiError(CdpError):
    """CDP answered with an error. Carries its error body: `{status, code, message, developerMessage}`."""

    def __init__(
        self,
        status: int,
        code: int | str | None = None,
        message: str = "",
        developer_message: str = "",
        *,
        method: str = "",
        url: str = "",
        more_info_url: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.developer_message = developer_message
        self.method = method
        self.url = url
        self.more_info_url = more_info_url
        self.body = body or {}
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.url}: ".lstrip() if self.method or self.url else ""
        text = self.message or "no message"
        if self.developer_message and self.developer_message != self.message:
            text += f" ({self.developer_message})"
        return f"{where}HTTP {self.status}: {text}{self._advice()}"

    def _advice(self) -> str:
        return ""


class CdpAuthError(CdpApiError):
    def _advice(self) -> str:
        return " - check the client key and API token (REST, Batch) or the OAuth key and secret (exports)"


class CdpNotFound(CdpApiError):
    pass


class CdpValidationError(CdpApiError):
    pass


class CdpConflict(CdpApiError):
    pass


class CdpRateLimited(CdpApiError):
    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)

    @property
    def retryable(self) -> bool:
        return True


class CdpServerError(CdpApiError):
    @property
    def retryable(self) -> bool:
        return True


class PresignedUrlExpired(CdpApiError):
    def _advice(self) -> str:
        return " - the pre-signed URL expired: ask CDP for a new one (re-allocate the batch, or list the export again)"


class BatchError(CdpError):
    def __init__(self, message: str, *, batch_ref: str = "", file_name: str = "") -> None:
        super().__init__(message)
        self.batch_ref = batch_ref
        self.file_name = file_name


class BatchCorrupted(BatchError):
    """CDP computed another size or MD5 than the allocation declared."""

    def __init__(self, *, batch_ref: str, file_name: str) -> None:
        super().__init__(
            f"batch {batch_ref} ({file_name}) is corrupted: CDP received a file whose size or MD5 differs "
            "from what the allocation declared. The file changed after it was written or was damaged in "
            "transit: write the batch file again (or check the disk), then upload it with a new batch ref",
            batch_ref=batch_ref,
            file_name=file_name,
        )


class BatchFailed(BatchError):
    pass


class BatchTimeout(BatchError):
    pass


def error_for_status(status: int) -> type[CdpApiError]:
    """The exception class for an HTTP error status."""
    if status in (401, 403):
        return CdpAuthError
    if status == 404:
        return CdpNotFound
    if status == 409:
        return CdpConflict
    if status == 429:
        return CdpRateLimited
    if status >= 500:
        return CdpServerError
    return CdpValidationError
