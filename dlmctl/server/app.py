"""The HTTP API: one loaded model, requests run one at a time, a bounded queue in front.

Endpoints (JSON; errors are ``{"error": "one line"}`` with a 4xx/5xx status):

- ``GET /v1/health``: the model and how many requests it holds (running and waiting);
- ``GET /v1/controls``: every control with its target syntax and an example;
- ``POST /v1/generate``: ``{"controls": {...}, "n": 2, "seed": 0, "options": {...}}`` → ``{"samples": [...]}``,
  each sample as ``dlmctl generate --json`` prints it;
- ``POST /v1/generate/stream``: the same request as server-sent events: ``step`` events (``{"step": i,
  "texts": {sample: text}}``) every ``options.every`` steps while sampling, then one ``samples`` event;
- ``POST /v1/infill``: ``{"template": "...", "n": 2, "seed": 0, "controls": {...}, "options": {...}}``;
- ``GET /``: the playground page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dlmctl.api import Model, controls
from dlmctl.errors import DlmctlError, UsageError

PAGE = Path(__file__).with_name("page.html")
log = logging.getLogger("dlmctl.server")
#: options a request may set, per endpoint (the rest are the server's)
GENERATE_OPTIONS = ("steps", "guide_steps", "guide_lr", "guide_every", "guide_norm", "guided_share", "tail_stride",
                    "temperature", "word_temperature", "repel", "teacher_weight", "repair", "candidates", "prune_at",
                    "survivors", "weights", "judge")
INFILL_OPTIONS = ("steps", "temperature", "mbr", "candidates", "weights", "judge")


@dataclass(frozen=True)
class Limits:
    """What one request may ask for, and how many may wait."""

    max_n: int = 16
    max_steps: int = 400
    max_candidates: int = 16
    max_guide_steps: int = 12
    max_body: int = 16_384          # bytes
    queue: int = 4                  # requests waiting behind the one running
    retry_after: int = 10           # seconds, in a 503's Retry-After


class Busy(Exception):
    """The queue is full."""


class Cancelled(Exception):
    """The client of a stream went away; its generation stops."""


class Runner:
    """Runs one request at a time on the model, in a worker thread; refuses a request when one runs
    and ``limits.queue`` wait already. ``in_flight`` is only touched on the event loop."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._model_lock = threading.Lock()
        self.in_flight = 0

    def check_room(self) -> None:
        """Raise :class:`Busy` when a new request would find the queue full."""
        if self.in_flight > self.limits.queue:
            raise Busy

    async def run(self, work: Callable[[], Any]) -> Any:
        """``work()`` in a worker thread once the requests before it are done."""
        self.check_room()
        self.in_flight += 1
        try:
            return await run_in_threadpool(self._locked, work)
        finally:
            self.in_flight -= 1

    def _locked(self, work: Callable[[], Any]) -> Any:
        with self._model_lock:
            return work()


def create_app(model: Model, limits: Limits = Limits()) -> Starlette:
    """The ASGI app serving ``model``."""
    runner = Runner(limits)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "model": str(model.path), "in_flight": runner.in_flight})

    async def list_controls(request: Request) -> Response:
        return JSONResponse([asdict(info) for info in controls(model.host).values()])

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE.read_text())

    async def generate(request: Request) -> Response:
        body = await read_request(request, limits, {"controls", "n", "seed", "options"})
        call = generate_call(model, body, limits)
        samples = await runner.run(call)
        return JSONResponse({"samples": [s.record() for s in samples]})

    async def infill(request: Request) -> Response:
        body = await read_request(request, limits, {"template", "controls", "n", "seed", "options"})
        template = body.get("template")
        if not isinstance(template, str) or not template.strip():
            raise UsageError('"template" must be a sentence with blanks, e.g. "The Eagle is a ___ pub ."')
        n, seed = counts(body, limits)
        options = request_options(body, INFILL_OPTIONS, limits)
        targets = request_controls(body)
        samples = await runner.run(lambda: model.infill(template, n=n, seed=seed, controls=targets, **options))
        return JSONResponse({"samples": [s.record() for s in samples]})

    async def generate_stream(request: Request) -> Response:
        body = await read_request(request, limits, {"controls", "n", "seed", "options"})
        options = dict(body.get("options") or {})
        every = options.pop("every", 5)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise UsageError(f'"options.every" must be a whole number of steps ≥ 1, got {every!r}')
        loop, events, gone = asyncio.get_running_loop(), asyncio.Queue(), threading.Event()

        def on_step(step: int, texts: dict[int, str]) -> None:
            if gone.is_set():
                raise Cancelled
            loop.call_soon_threadsafe(events.put_nowait, ("step", {"step": step, "texts": texts}))

        call = generate_call(model, {**body, "options": options}, limits, trajectory_every=every, on_step=on_step)
        runner.check_room()                   # a full queue is a 503 before the stream starts

        async def produce() -> None:
            try:
                samples = await runner.run(call)
                events.put_nowait(("samples", {"samples": [s.record() for s in samples]}))
            except Busy:
                events.put_nowait(("error", {"error": "the server is busy; try again later"}))
            except Cancelled:
                pass
            except DlmctlError as exc:
                events.put_nowait(("error", {"error": exc.one_line()}))
            except Exception as exc:  # the stream must end whatever went wrong
                log.exception("streamed generation failed")
                events.put_nowait(("error", {"error": f"internal error: {exc!r}"}))

        async def stream() -> AsyncIterator[str]:
            task = asyncio.create_task(produce())
            try:
                while True:
                    kind, data = await events.get()
                    yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                    if kind != "step":
                        break
            finally:                             # also when the client goes away: stop sampling
                gone.set()
                await task

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def dlmctl_error(request: Request, exc: Exception) -> Response:
        """Bad requests (usage, targets, unknown controls) are 400; anything else the server's fault."""
        return JSONResponse({"error": exc.one_line()}, status_code=400 if exc.exit_code == 2 else 500)

    async def busy(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "the server is busy; try again later"}, status_code=503,
                            headers={"Retry-After": str(limits.retry_after)})

    async def too_large(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=413)

    async def internal(request: Request, exc: Exception) -> Response:
        log.error("request failed", exc_info=exc)
        return JSONResponse({"error": f"internal error: {exc!r}"}, status_code=500)

    routes = [Route("/", page), Route("/v1/health", health), Route("/v1/controls", list_controls),
              Route("/v1/generate", generate, methods=["POST"]),
              Route("/v1/generate/stream", generate_stream, methods=["POST"]),
              Route("/v1/infill", infill, methods=["POST"])]
    return Starlette(routes=routes, exception_handlers={DlmctlError: dlmctl_error, Busy: busy,
                                                       BodyTooLarge: too_large, Exception: internal})


class BodyTooLarge(Exception):
    """A request body over ``Limits.max_body``."""


async def read_request(request: Request, limits: Limits, known: set[str]) -> dict[str, Any]:
    """The JSON object of a request body; usage errors for anything else or for unknown keys."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body:
        raise BodyTooLarge(f"the request body is over {limits.max_body} bytes")
    raw = await request.body()
    if len(raw) > limits.max_body:
        raise BodyTooLarge(f"the request body is over {limits.max_body} bytes")
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError('the request body is not JSON; expected e.g. {"controls": {"length": "10"}, "n": 2}') from None
    if not isinstance(body, dict):
        raise UsageError('the request body must be a JSON object, e.g. {"controls": {"length": "10"}, "n": 2}')
    unknown = sorted(set(body) - known)
    if unknown:
        raise UsageError(f"unknown field '{unknown[0]}' (fields: {', '.join(sorted(known))})")
    return body


def request_controls(body: dict[str, Any]) -> dict[str, str]:
    """``body["controls"]``: an object of control name → target."""
    targets = body.get("controls") or {}
    if not isinstance(targets, dict) or not all(isinstance(v, (str, int, float)) for v in targets.values()):
        raise UsageError('"controls" must be an object of control name → target, e.g. {"length": "10"}')
    return {str(k): str(v) for k, v in targets.items()}


def counts(body: dict[str, Any], limits: Limits) -> tuple[int, int]:
    """``n`` (1 … max_n, default 1) and ``seed`` (default 0) of a request."""
    n, seed = body.get("n", 1), body.get("seed", 0)
    for name, value in (("n", n), ("seed", seed)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f'"{name}" must be a whole number, got {value!r}')
    if not 1 <= n <= limits.max_n:
        raise UsageError(f'"n" must be between 1 and {limits.max_n} on this server, got {n}')
    return n, seed


def request_options(body: dict[str, Any], allowed: tuple[str, ...], limits: Limits) -> dict[str, Any]:
    """``body["options"]``, checked against what the endpoint allows and the server's caps."""
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise UsageError('"options" must be an object, e.g. {"steps": 50}')
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}' (options: {', '.join(allowed)})")
    caps = {"steps": limits.max_steps, "candidates": limits.max_candidates, "mbr": limits.max_candidates,
            "guide_steps": limits.max_guide_steps, "survivors": limits.max_candidates, "tail_stride": limits.max_steps,
            "guide_every": limits.max_steps}
    for name, cap in caps.items():
        value = options.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= cap):
            raise UsageError(f'"options.{name}" must be a whole number from 1 to {cap} on this server, got {value!r}')
    weights = options.get("weights", {})
    if not isinstance(weights, dict) or not all(_is_number(v) for v in weights.values()):
        raise UsageError('"options.weights" must be an object of control name → λ, e.g. {"pos": 0.003}')
    for name in ("temperature", "word_temperature", "repel", "teacher_weight", "guide_lr", "guided_share", "prune_at"):
        if name in options and not _is_number(options[name]) and not (
                options[name] is None and name in ("prune_at", "guide_lr", "repel", "teacher_weight",
                                                   "word_temperature", "guided_share")):
            raise UsageError(f'"options.{name}" must be a number, got {options[name]!r}')
    if "judge" in options and not isinstance(options["judge"], bool):
        raise UsageError(f'"options.judge" must be true or false, got {options["judge"]!r}')
    return dict(options)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def generate_call(model: Model, body: dict[str, Any], limits: Limits, **extra: Any) -> Callable[[], list]:
    """The generation a request asks for, checked, ready to run."""
    n, seed = counts(body, limits)
    options = request_options(body, GENERATE_OPTIONS, limits)
    targets = request_controls(body)
    return lambda: model.generate(targets, n=n, seed=seed, **options, **extra)
