"""Domain exceptions shared across layers; web handlers map them to error pages (STYLE rule 4)."""

from __future__ import annotations


class EdgarFetchError(RuntimeError):
    """An EDGAR request failed for good (retries exhausted, unexpected status, unusable body)."""

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class EdgarNotFound(EdgarFetchError):
    """EDGAR answered 404: the document does not exist (or not yet, e.g. a daily index)."""


class EdgarBlockedError(EdgarFetchError):
    """SEC fair-access block ("Request Rate Threshold Exceeded" / undeclared tool): all requests paused."""

    def __init__(
        self, message: str, *, url: str | None = None, status: int | None = None, retry_in_s: float = 0.0
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_in_s = retry_in_s


class NotFoundError(LookupError):
    """Something a page asked for does not exist; rendered as a 404 page (or JSON on /api)."""

    def __init__(self, message: str, *, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.suggestions = suggestions or []


class BadParameterError(ValueError):
    """A query parameter a service rejected; rendered as a 422 page naming the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
