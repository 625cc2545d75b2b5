"""Reading a request body with a ceiling, for every route that reads one (the MTurk API at `POST /` has its own
check in app.py): a Content-Length over the limit is refused before a byte of the body is read, and a body sent
without one (chunked) is read only up to the limit, so no request makes the server buffer more than it allows."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit:,} bytes.")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body of `request` (at most `limit` bytes), cached on the request as Starlette's `body()` does, so
    `request.form()` and `request.body()` afterwards parse it without reading again; else BodyTooLarge."""
    cached = getattr(request, "_body", None)
    if cached is not None:
        if len(cached) > limit:
            raise BodyTooLarge(limit)
        return cached
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = request._body = b"".join(chunks)
    return body
