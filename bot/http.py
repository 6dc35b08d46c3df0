"""HTTP plumbing shared by every adapter: error handling, size limits, health and readiness."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from bot.storage.db import ping

log = logging.getLogger(__name__)
ASSISTANT = web.AppKey("assistant", object)


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


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
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "internal error")


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
