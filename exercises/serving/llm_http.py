# Starter code generated from solutions/serving/llm_http.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=2` restores this file.
"""HTTP routes of LLM generation after Triton's generate extension, over LLMServices (llm_service.py).

  POST /v2/models/{name}/generate  {"text_input": str, "parameters": {...}, "id": str} (the last two optional)
      -> {"model_name", "model_version": "1", "id" (if sent), "text_output", "finish_reason", "prompt_tokens",
      "completion_tokens"}
  POST /v2/models/{name}/generate_stream  the same -> Server-Sent Events, `data: {json}` per sampled token:
      {"model_name", "text_output", "index"}, then a final {"model_name", "text_output", "finish_reason",
      "prompt_tokens", "completion_tokens"} (and "id", if sent).

Parameters (null: absent): max_tokens (int in [1, context], default 16), temperature (finite number >= 0,
default 0: greedy), seed (int in [0, 2**63)), stop (a non-empty string or a list of them), timeout_ms (number
in (0, 3600000]: then the answer ends "deadline", with the partial output). Unknown fields and parameters are
refused, naming them (protocol.py's strict policy). prompt_tokens counts tinygpt.encode(text_input);
completion_tokens the tokens sampled (a stop string's bytes and an EOT count).

Status codes: 200; 404 unknown model; 413/415 as app.py; 422 bad input, naming the field first; 503 + Retry-After
for a full waiting queue or a draining server: all before a stream's 200. A client closing the connection,
mid-stream or while its request waits, aborts the sequence.

Streamed text (StreamText): a token's event carries the text that became certain with it: bytes that may
still turn out to be a stop string (the engine removes it) are held back, UTF-8 is decoded incrementally, and
the final event carries what the end released (usually ""). The texts concatenate to generate's text_output.
"""
from __future__ import annotations

import asyncio
import codecs
import json
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from mlpractice import tinygpt

from .continuous import InvalidParameter, SamplingParams
from .errors import Draining, InvalidInput, ModelNotFound
from .http_io import error_response, read_body
from .llm_service import Finished
from .protocol import MAX_TIMEOUT_MS, loads, short

FIELDS = ("text_input", "parameters", "id")
PARAMETERS = ("max_tokens", "temperature", "seed", "stop", "timeout_ms")
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TPOT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
GAUGES = (("mlserve_llm_running_sequences", "running", "Sequences decoding"),
          ("mlserve_llm_waiting_sequences", "waiting", "Sequences waiting for admission"),
          ("mlserve_llm_kv_blocks_in_use", "kv_blocks_in_use", "Paged KV cache blocks held (0: contiguous cache)"))


@dataclass(frozen=True)
class GenerateRequest:
    prompt: list[int]
    params: SamplingParams
    id: str | None = None
    timeout_s: float | None = None


def _require(ok: bool, field: str, expected: str, value) -> None:
    if not ok:
        raise InvalidInput(field, f"expected {expected}, got {short(value)}")


def _unicode(text: str) -> bool:
    return not any("\ud800" <= c <= "\udfff" for c in text)  # no lone surrogate: UTF-8 can encode it


def parse_generate_request(body: bytes, context: int) -> GenerateRequest:
    """The request in `body` (pure), or InvalidInput naming the field (the module docstring's rules)."""
    doc = loads(body)
    _require(isinstance(doc, dict), "body", "a JSON object", doc)
    text, request_id, params = doc.get("text_input"), doc.get("id"), doc.get("parameters") or {}
    _require(isinstance(params, dict), "parameters", "a JSON object", params)
    for given, allowed, prefix, what in ((doc, FIELDS, "", "field"), (params, PARAMETERS, "parameters.", "parameter")):
        for key in (key for key in given if key not in allowed):
            raise InvalidInput(prefix + key[:64], f"unknown {what}; expected only {', '.join(allowed)}")
    _require(isinstance(text, str) and text != "", "text_input", "a non-empty string (required)", text)
    size = len(text.encode("utf-8", "surrogatepass"))  # the end-of-text and these bytes must fit the context
    _require(size < context, "text_input", f"at most {context - 1} UTF-8 bytes (the context less the end-of-text)",
             size)
    _require(_unicode(text), "text_input", "valid Unicode (JSON can carry a lone surrogate; UTF-8 cannot)", text)
    _require(request_id is None or isinstance(request_id, str), "id", "a string", request_id)
    p = {k: v for k, v in params.items() if v is not None}
    stop, timeout_ms = p.get("stop", []), p.get("timeout_ms")
    stop = [stop] if isinstance(stop, str) else stop
    _require(not isinstance(stop, list) or all(not isinstance(s, str) or _unicode(s) for s in stop),
             "parameters.stop", "valid Unicode in every string", stop)
    try:  # SamplingParams checks the values (continuous.py): one source of truth, its field named here
        params = SamplingParams(p.get("max_tokens", 16), p.get("temperature", 0), p.get("seed"), stop)
    except InvalidParameter as err:
        raise InvalidInput(f"parameters.{err.field}", err.problem) from None
    _require(params.max_tokens <= context, "parameters.max_tokens", f"at most the context ({context})",
             params.max_tokens)
    _require(timeout_ms is None or type(timeout_ms) in (int, float) and 0 < timeout_ms <= MAX_TIMEOUT_MS,
             "parameters.timeout_ms", f"a number of milliseconds in (0, {MAX_TIMEOUT_MS}]", timeout_ms)
    return GenerateRequest(tinygpt.encode(text), params, request_id, None if timeout_ms is None else timeout_ms / 1000)


def stop_holdback(data: bytes, stops: list[bytes]) -> int:
    """How many trailing bytes of `data` to hold back: the longest suffix that is a prefix of a stop string
    (a whole one included: the engine is about to remove it)."""
    return max((k for s in stops for k in range(1, min(len(s), len(data)) + 1) if data.endswith(s[:k])), default=0)


class StreamText:
    """The text of one generation as its tokens arrive (pure): `push(token)` -> the text now certain, then
    `finish(output)` -> the rest. Together they make exactly tinygpt.decode(output)."""

    def __init__(self, stop=()):
        self.stops = [s.encode("utf-8") for s in stop]
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.held = b""  # generated bytes not yet passed to the decoder
        self.sent = 0    # bytes passed to the decoder: always a prefix of the output

    def push(self, token: int) -> str:
        if token >= 256:  # EOT ends the generation and is never output
            return ""
        self.held += bytes((token,))
        keep = stop_holdback(self.held, self.stops)
        ready, self.held = self.held[:len(self.held) - keep], self.held[len(self.held) - keep:]
        self.sent += len(ready)
        return self.decoder.decode(ready)

    def finish(self, output) -> str:
        return self.decoder.decode(bytes(i for i in output if i < 256)[self.sent:], final=True)


class LLMMetrics:
    """An observer of every service (histograms, counter) and a collector of their gauges at scrape time."""

    def __init__(self, registry, services: dict):
        self.services = services
        self.ttft = Histogram("mlserve_llm_time_to_first_token_seconds", "Submit to the first sampled token",
                              ["model"], buckets=TTFT_BUCKETS, registry=registry)
        self.tpot = Histogram("mlserve_llm_time_per_output_token_seconds", "(last - first token) / (tokens - 1)",
                              ["model"], buckets=TPOT_BUCKETS, registry=registry)
        self.tokens = Counter("mlserve_llm_generated_tokens", "Tokens sampled", ["model"], registry=registry)

    def on_first_token(self, name: str, seconds: float) -> None:
        self.ttft.labels(name).observe(seconds)

    def on_tokens(self, name: str, n: int) -> None:
        self.tokens.labels(name).inc(n)

    def on_finished(self, name: str, tpot_s: float | None, reason: str) -> None:
        if tpot_s is not None:
            self.tpot.labels(name).observe(tpot_s)

    def collect(self):
        for metric, key, help_text in GAUGES:
            family = GaugeMetricFamily(metric, help_text, labels=["model"])
            for name, service in sorted(self.services.items()):
                family.add_metric([name], service.gauges[key])
            yield family


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _event(doc: dict) -> bytes:
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"


class Generation(Response):
    """The 200 answer of one admitted generation, streamed or not. Whichever comes first ends it: the
    answer is written, or the client disconnects (then the stream is closed, which aborts the sequence)."""

    def __init__(self, name: str, stream, request: GenerateRequest, streaming: bool):
        self.name, self.stream, self.request, self.streaming, self.background = name, stream, request, streaming, None

    def _final(self, finished: Finished, text: str, **version) -> dict:
        doc = {"model_name": self.name, **version, "text_output": text, "finish_reason": finished.finish_reason,
               "prompt_tokens": finished.prompt_tokens, "completion_tokens": finished.completion_tokens}
        return doc if self.request.id is None else {**doc, "id": self.request.id}

    async def _answer(self, send) -> None:
        finished = [item async for item in self.stream if isinstance(item, Finished)][0]
        doc = self._final(finished, tinygpt.decode(finished.output), model_version="1")
        content = json.dumps(doc).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]})
        await send({"type": "http.response.body", "body": content})

    async def _events(self, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]})
        text, index = StreamText(self.request.params.stop), 0
        async for first in self.stream:
            events = []
            for item in [first, *self.stream.ready()]:  # one write for every token already sampled
                if isinstance(item, Finished):
                    events.append(_event(self._final(item, text.finish(item.output))))
                else:
                    events.append(_event({"model_name": self.name, "text_output": text.push(item), "index": index}))
                    index += 1
            await send({"type": "http.response.body", "body": b"".join(events), "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def __call__(self, scope, receive, send) -> None:
        work = asyncio.ensure_future(self._events(send) if self.streaming else self._answer(send))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            work.cancel()
            gone.cancel()
            self.stream.close()  # aborts the sequence unless it finished
            error = (await asyncio.gather(work, gone, return_exceptions=True))[0]
        if isinstance(error, Exception) and not isinstance(error, OSError):  # OSError: the client went away
            raise error  # a bug: logged, and a 500 if nothing was sent yet (uvicorn, or JSONErrors via FastAPI)


def add_llm_routes(app, services: dict, metrics, *, max_body_bytes: int = 1 << 20) -> None:
    """The two routes over `services` {model name: LLMService}; their metrics join `metrics`' registry."""
    llm_metrics = LLMMetrics(metrics.registry, services)
    metrics.add_collector(llm_metrics)
    for service in services.values():
        service.observers.append(llm_metrics)
    server = app.state.server

    async def generation(scope, receive, name: str, streaming: bool) -> Response:
        try:
            body = await read_body(scope, receive, max_body_bytes)
            if server.draining:
                raise Draining(f"server is draining; {name[:64]} takes no new requests")
            service = services.get(name)
            if service is None:
                raise ModelNotFound(f"no generative model {name[:64]!r}; this server generates with "
                                    f"{', '.join(sorted(services))}")
            parsed = parse_generate_request(body, service.context)
            stream = await service.submit(parsed.prompt, parsed.params, deadline_s=parsed.timeout_s)
        except Exception as err:
            if getattr(err, "status", None) in (413, 415, 422):  # malformed: counted as app.py does
                metrics.invalid(name)
            return error_response(err)
        return Generation(name, stream, parsed, streaming)

    # the documented routes; fast_path.ServingApp answers the same requests with the same function first
    @app.post("/v2/models/{name}/generate")
    async def generate(name: str, request: Request):
        return await generation(request.scope, request.receive, name, streaming=False)

    @app.post("/v2/models/{name}/generate_stream")
    async def generate_stream(name: str, request: Request):
        return await generation(request.scope, request.receive, name, streaming=True)

    app.generate = generation
