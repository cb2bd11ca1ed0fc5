"""The one error type the services raise for a request they refuse."""


class RequestRefused(Exception):
    """A client request is refused with an HTTP 4xx `status` and a reason.

    The server logs the reason to stderr: sigstore-python raises a bare
    ``FulcioClientError`` for any non-2xx answer, so the server log is the
    only place a test author can read why a request failed.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
