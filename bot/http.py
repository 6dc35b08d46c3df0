"""HTTP plumbing shared by every adapter: error handling, limits, security headers, health and readiness.

Everything here applies to every route, so a new endpoint is protected without remembering to be:
security headers and a neutral ``Server`` header on every response, a Host allow-list on loopback
(DNS rebinding), a deadline for reading a request body (slow clients), a cap on open connections,
and a JSON error (never a traceback) for anything that goes wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

from bot.config import LOOPBACK_HOSTS, Settings
from bot.storage.db import ping

log = logging.getLogger(__name__)
ASSISTANT = web.AppKey("assistant", object)
SETTINGS = web.AppKey("settings", Settings)
SERVER_NAME = "infoshare"  # no product or version banner
# Every response; a handler that needs a wider policy (the chat page) sets its own first.
DEFAULT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_LOOPBACK_NAMES = LOOPBACK_HOSTS | {"[::1]"}


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """No request ever sees a traceback: map failures to a short JSON error and log the reason."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        log.info("request body too large", extra={"path": request.path})
        return json_error(413, "request body too large")
    except web.HTTPException:
        raise
    except json.JSONDecodeError:
        log.info("malformed JSON", extra={"path": request.path})
        return json_error(400, "malformed JSON")
    except UnicodeDecodeError:  # a handler read the body as text and it was not UTF-8
        log.info("request body is not UTF-8", extra={"path": request.path})
        return json_error(400, "request body is not valid UTF-8")
    except ConnectionError:  # the client hung up mid-request: nothing to answer, nothing wrong here
        log.info("client disconnected", extra={"path": request.path})
        return json_error(400, "client disconnected")
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "internal error")


def host_name(host_header: str) -> str | None:
    """The name part of a Host header, lower-cased (``[::1]:3978`` -> ``[::1]``); None if malformed."""
    try:
        url = URL(f"http://{host_header}")
    except ValueError:
        return None
    if not url.host or url.user or url.path not in ("", "/"):
        return None
    name = url.host.lower()
    return f"[{name}]" if ":" in name else name


def public_names(settings: Settings) -> frozenset[str]:
    """``PUBLIC_HOST`` as names (``Bot.Example.org:443`` -> ``bot.example.org``)."""
    return frozenset(host_name(h) or h for h in settings.public_hosts)


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """Host names the server answers to, or None for any: loopback servers only answer loopback
    names (plus ``PUBLIC_HOST``), so a page on a rebinding DNS name cannot read their answers."""
    public = public_names(settings)
    if settings.host in LOOPBACK_HOSTS:
        return frozenset(_LOOPBACK_NAMES | public)
    return frozenset(public) if public else None


def host_middleware(allowed: frozenset[str]):
    @web.middleware
    async def check_host(request: web.Request, handler):
        name = host_name(request.headers.get("Host", ""))
        if name not in allowed:
            log.info("request refused: Host not allowed", extra={"path": request.path, "host": str(name)[:100]})
            return json_error(421, "unknown host")
        return await handler(request)

    return check_host


def body_deadline_middleware(seconds: float):
    """Read the whole body within ``seconds`` of the headers (later handlers get it from aiohttp's
    cache); a client trickling a body is answered 408 and its connection closed."""

    @web.middleware
    async def read_body(request: web.Request, handler):
        routed = getattr(request.match_info, "http_exception", None) is None  # no body read for a 404 / 405
        if routed and request.can_read_body:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                log.info("request body too slow", extra={"path": request.path, "seconds": seconds})
                response = json_error(408, "request body not received in time")
                response.force_close()
                return response
        return await handler(request)

    return read_body


def cross_site_reason(request: web.Request) -> str | None:
    """Why a request looks sent by another site's page, or None. Browsers always send ``Origin`` on a
    cross-origin POST and ``Sec-Fetch-Site`` on every request; other clients (curl, Slack, the Bot
    Connector) send neither and are checked by their own authentication. The origin must be the
    ``Host`` asked for, or a ``PUBLIC_HOST`` (a proxy in front may rewrite ``Host``)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site[:30]}"
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    try:
        url = URL(origin)
        own = URL.build(scheme=url.scheme, authority=request.headers.get("Host", ""))
    except (ValueError, TypeError):
        return "malformed Origin"
    name = (url.host or "").lower()
    if url.scheme and name == (own.host or "").lower() and url.port == own.port:
        return None
    settings = request.app.get(SETTINGS)
    if url.scheme in ("http", "https") and settings and host_name(url.authority) in public_names(settings):
        return None
    return f"Origin: {origin[:100]}"


def is_json(request: web.Request) -> bool:
    """Exactly ``application/json`` (charset allowed): a form or ``text/plain`` body, which a page on
    another site can send without a CORS preflight, is never accepted by a JSON endpoint."""
    return request.content_type == "application/json"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: static files, errors and JSON all get the same protective headers."""
    for name, value in DEFAULT_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER_NAME


def install_http_protections(app: web.Application, settings: Settings) -> None:
    """Add the Host check and body deadline (after ``error_middleware``) and the response headers."""
    app[SETTINGS] = settings
    hosts = allowed_hosts(settings)
    if hosts is not None:
        log.info("answering only these Host names (add others with PUBLIC_HOST)", extra={"hosts": sorted(hosts)})
        app.middlewares.append(host_middleware(hosts))
    app.middlewares.append(body_deadline_middleware(settings.body_timeout_seconds))
    app.on_response_prepare.append(security_headers)


class _Refused(asyncio.Protocol):
    """The protocol for a connection over the cap: a short 503 and the socket is closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        transport.close()


class HardenedRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, whose own error answers (a malformed request line or headers,
    before any route runs) also get the security headers and no version banner, and are logged at
    INFO with the reason: any client can send a malformed request, so it must not flood the ERROR log."""

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError | ConnectionError):
            log.info("malformed request refused", extra={"reason": f"{type(exc).__name__}: {exc}"[:200]})
            return
        super().log_exception(*args, **kwargs)

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, message)
        response.headers.update(DEFAULT_HEADERS)
        response.headers["Server"] = SERVER_NAME
        return response


class CappedTCPSite(web.TCPSite):
    """A TCP site that accepts at most ``max_connections`` open connections, so a flood of idle or slow
    sockets cannot use up the process's file descriptors and starve everyone else."""

    __slots__ = ("_handler_options", "_max_connections", "_refused")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int,
                 keepalive_timeout: float, **kwargs):
        super().__init__(runner, host, port, **kwargs)
        self._max_connections = max_connections
        self._refused = 0
        self._handler_options = {"keepalive_timeout": keepalive_timeout}

    async def start(self) -> None:
        await web.BaseSite.start(self)
        self._server = await asyncio.get_running_loop().create_server(
            self._accept, self._host, self._port, backlog=self._backlog, reuse_address=self._reuse_address,
            reuse_port=self._reuse_port)
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port

    def _accept(self) -> asyncio.BaseProtocol:
        server = self._runner.server
        if len(server.connections) >= self._max_connections:
            self._refused += 1
            if self._refused in (1, 10, 100) or self._refused % 1000 == 0:
                log.warning("connection refused: at MAX_CONNECTIONS",
                            extra={"max_connections": self._max_connections, "refused": self._refused})
            return _Refused()
        return HardenedRequestHandler(server, loop=asyncio.get_running_loop(), **self._handler_options)


class PortInUse(Exception):
    """Another process is listening on HOST:PORT (not a database problem, whatever OSError says)."""


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (checked before the slow start-up, so the
    person starting the server hears about it first); the bind itself is checked again when serving."""
    if port == 0:
        return False
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # the bind reports a bad HOST itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is fine
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def run_server(app: Awaitable[web.Application], settings: Settings, shutdown_timeout: float = 15.0,
               on_listening: Callable[[web.Application], None] | None = None) -> None:
    """``web.run_app`` with the connection cap and the header deadline (aiohttp's keep-alive timer,
    which also runs while a request's headers are arriving). ``on_listening`` runs once the port is
    bound, so nothing tells a person to open the page before it can be opened."""

    async def serve() -> None:
        application = await app
        runner = web.AppRunner(application, handle_signals=True, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        try:
            try:
                await CappedTCPSite(runner, settings.host, settings.port, max_connections=settings.max_connections,
                                    keepalive_timeout=settings.header_timeout_seconds).start()
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(f"{settings.host}:{settings.port}") from None
                raise
            if on_listening is not None:
                on_listening(application)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    loop = asyncio.new_event_loop()
    main_task = loop.create_task(serve())
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main_task)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        if not main_task.done():
            main_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, web.GracefulExit):
                loop.run_until_complete(main_task)
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process is up and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: content loaded and the database answering."""
    assistant = request.app[ASSISTANT]
    database = await ping(assistant.engine)
    body = {"status": "ok" if database else "unavailable", "database": database,
            "content_version": assistant.content.version}
    return web.json_response(body, status=200 if database else 503)


def setup_health(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
