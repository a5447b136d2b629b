"""Security headers on every answer (pure ASGI middleware: the body streams through).

The API serves JSON, PNG/SVG QR codes and two plain HTML pages (the public case page and the
e-certificate page its QR code opens, without scripts, styles or images of their own), so the
strictest policy fits: nothing may be loaded, framed or sent as a referrer, and no content
type may be guessed. uvicorn's ``server`` banner is off (``zhenglian serve``); the Swagger UI,
which FastAPI loads from a CDN, is not served (``/openapi.json`` is).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS: Final = (
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
"""Added to every HTTP answer."""


class SecurityHeaders:
    """Adds :data:`HEADERS` to every HTTP response start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
