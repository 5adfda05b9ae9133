"""The one error type of the serving stack: a message and the HTTP status it answers with."""

from __future__ import annotations


class ServingError(Exception):
    """A request that cannot be answered: ``http_status`` and TensorFlow Serving's message.

    ``plain`` marks TensorFlow Serving's one non-JSON answer (a path outside ``/v1/``: a bare
    404). Every other error is sent as ``{"error": message}``.
    """

    def __init__(self, http_status: int, message: str, *, plain: bool = False):
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.plain = plain

    def __repr__(self) -> str:
        return f"ServingError({self.http_status}, {self.message!r})"
