"""Errors the simulator answers with, in the shapes Amazon uses.

``SpApiError`` becomes an SP-API ``{"errors": [...]}`` body; ``LwaError`` an LWA
``{"error_description": ..., "error": ...}`` body. Handlers raise them; the gateway and the LWA
handler turn them into responses.
"""

from __future__ import annotations


class SpApiError(Exception):
    """An SP-API error answer: HTTP status plus one ``Error`` (code, message, details)."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, list[dict[str, str]]]:
        """The ``ErrorList`` body."""
        error = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"errors": [error]}


def invalid_input(message: str, details: str | None = None) -> SpApiError:
    """A 400 ``InvalidInput``."""
    return SpApiError(400, "InvalidInput", message, details)


def not_found(message: str) -> SpApiError:
    """A 404 ``NotFound``."""
    return SpApiError(404, "NotFound", message)


class LwaError(Exception):
    """An LWA token-endpoint error: HTTP status, OAuth error code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body, keys in the order Amazon sends them."""
        return {"error_description": self.description, "error": self.error}


class AuthPageError(Exception):
    """A Seller Central error page: an Amazon code (MD1000, ...) when Amazon names one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
