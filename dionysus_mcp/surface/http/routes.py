"""The REST API over the traces and the trace viewer's pages (all GET, all read-only).

    GET /health
    GET /api/agents/traces?agent_name=&status=&since=&until=&limit=&cursor=&roots_only=
    GET /api/agents/traces/{id}?detail=summary|full&steps_from=&steps_limit=
    GET /api/agents/traces/{id}/replay          (text/markdown; stored text escaped)
    GET /api/agents/traces/diff?a=&b=
    GET /api/agents/token-usage?agent_name=&since=
    GET /traces, /traces/{id}                   (the trace viewer, HTML; /traces/{a}?diff={b})

A store error is a 503 that says the store could not answer, without its path or driver text
(those go to the server's log).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from dionysus_mcp.errors import DionysusError, InvalidInput, NotFound
from dionysus_mcp.runtime import Runtime
from dionysus_mcp.store.base import StoreError, StoreUnavailable
from schema.models import TraceStatus

log = logging.getLogger(__name__)
STATUSES = set(get_args(TraceStatus))


def _json(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _error(exc: Exception) -> Response:
    if isinstance(exc, NotFound):
        return JSONResponse({"error": str(exc)}, status_code=404)
    if isinstance(exc, DionysusError):
        return JSONResponse({"error": str(exc)}, status_code=400)
    log.warning("store error on a REST request: %s", exc)
    why = "is not reachable right now" if isinstance(exc, StoreUnavailable) else "could not answer"
    return JSONResponse({"error": f"store unavailable: the trace store {why} (the server's log says why)"}, status_code=503)


def _datetime(params: Any, name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not an ISO-8601 date or time (e.g. 2026-11-24T10:00:00Z)") from None
    from dionysus_mcp.inputs import plausible_moment

    try:
        return plausible_moment(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


def _int(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a whole number") from None


def _opt_int(params: Any, name: str) -> int | None:
    return None if params.get(name) in (None, "") else _int(params, name, 0)


def rest_routes(get_runtime) -> list[Route]:
    async def health(request: Request) -> Response:
        rt: Runtime = get_runtime()
        return JSONResponse({"status": "ok", "store": rt.store.backend, "outbox_pending": rt.outbox.count()})

    async def traces(request: Request) -> Response:
        q = request.query_params
        try:
            status = q.get("status") or None
            if status is not None and status not in STATUSES:
                raise InvalidInput(f"status={status!r} must be one of {', '.join(sorted(STATUSES))}")
            page = await get_runtime().traces.list_traces(
                agent_name=q.get("agent_name") or None,
                status=status,
                since=_datetime(q, "since"),
                until=_datetime(q, "until"),
                limit=_int(q, "limit", 20),
                cursor=q.get("cursor") or None,
                roots_only=q.get("roots_only", "").lower() in {"1", "true", "yes"},
            )
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return _json(page)

    async def trace(request: Request) -> Response:
        try:
            q = request.query_params
            return _json(await get_runtime().traces.read_trace(
                request.path_params["trace_id"], q.get("detail") or "full", _opt_int(q, "steps_from"),
                _opt_int(q, "steps_limit"),
            ))
        except (DionysusError, StoreError) as exc:
            return _error(exc)

    async def diff(request: Request) -> Response:
        q = request.query_params
        try:
            if not q.get("a") or not q.get("b"):
                raise InvalidInput("pass the two runs to compare as ?a=<trace id>&b=<trace id>")
            return _json(await get_runtime().traces.diff(q["a"], q["b"]))
        except (DionysusError, StoreError) as exc:
            return _error(exc)

    async def replay(request: Request) -> Response:
        try:
            text = await get_runtime().traces.replay(request.path_params["trace_id"])
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    async def token_usage(request: Request) -> Response:
        q = request.query_params
        try:
            report = await get_runtime().traces.token_usage(q.get("agent_name") or None, _datetime(q, "since"))
        except (DionysusError, StoreError) as exc:
            return _error(exc)
        return _json(report)

    async def viewer(request: Request) -> Response:
        from dionysus_mcp.surface.viewer import viewer_csp, viewer_html

        # The page reads everything through the REST API; it only needs to be the page. Its one
        # script and one style block run by their hashes, nothing inline besides.
        return HTMLResponse(viewer_html(), headers={"Content-Security-Policy": viewer_csp(), "Cache-Control": "no-store"})

    return [
        Route("/health", health, methods=["GET"]),
        Route("/traces", viewer, methods=["GET"]),
        Route("/traces/{trace_id}", viewer, methods=["GET"]),
        Route("/api/agents/traces", traces, methods=["GET"]),
        Route("/api/agents/traces/diff", diff, methods=["GET"]),  # before {trace_id}
        Route("/api/agents/traces/{trace_id}", trace, methods=["GET"]),
        Route("/api/agents/traces/{trace_id}/replay", replay, methods=["GET"]),
        Route("/api/agents/token-usage", token_usage, methods=["GET"]),
    ]
