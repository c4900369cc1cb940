"""The one error type services raise. Pages show it beside the named field; the API turns it
into an RFC 9457 problem document with the same field and message."""


class ServiceError(Exception):
    def __init__(
        self, message: str, *, field: str | None = None, code: str = "invalid", status: int = 400
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.status = status


class ConflictError(ServiceError):
    def __init__(self, message: str, *, field: str | None = None, code: str = "conflict") -> None:
        super().__init__(message, field=field, code=code, status=409)
