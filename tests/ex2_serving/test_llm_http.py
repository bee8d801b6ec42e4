"""LLM generation over HTTP (llm_http.py over llm_service.py): Triton's generate and generate_stream, on real
uvicorn on 127.0.0.1, every answer checked against tinygpt.generate alone.

The model runs in float64 for the reason test_continuous_batching.py gives: batched and single-sequence
arithmetic then agree far below any gap between two logits, so "equal to the reference alone" is exact.
Timing-dependent cases (disconnects, a full queue, deadlines) slow every step down from outside, by a
batcher subclass (`Slow`), so that a generation lasts long enough to be interrupted on a loaded machine.
"""
import asyncio
import functools
import http.client
import json
import socket
import threading
import time

import httpx
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from mlpractice import tinygpt
from mlpractice.impl import load
from mlpractice.net import uvicorn_on_loopback

pytestmark = pytest.mark.scaffold

serving = load("serving")
continuous = load("serving.continuous")
llm_service = load("serving.llm_service")
llm_http = load("serving.llm_http")
PROMPTS = ["The function", "import os", "Return the", "A list is", "class Foo:", "If the value"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@functools.lru_cache(maxsize=None)
def model():
    return tinygpt.load("late").double()


@functools.lru_cache(maxsize=None)
def alone(text: str, max_tokens: int = 16, temperature: float = 0.0, seed=None, stop=()) -> tuple[str, str]:
    ids, reason = tinygpt.generate(model(), tinygpt.encode(text), max_tokens, temperature=temperature, seed=seed,
                                   stop=tuple(stop))
    return tinygpt.decode(ids), reason


class Slow(continuous.ContinuousBatcher):
    """A batcher whose every step takes at least `step_s` more: generations long enough to interrupt."""

    step_s = 0.01

    def step(self):
        time.sleep(self.step_s)
        return super().step()


@pytest.fixture
def served(tmp_path):
    """served(**batcher options) -> (url, service, server): the app with one LLMService "tinygpt", on uvicorn."""
    stack = []

    def start(batcher_class=continuous.ContinuousBatcher, **options):
        service = llm_service.LLMService("tinygpt", batcher_class(model(), **options))
        server = serving.ModelServer(tmp_path)
        context = uvicorn_on_loopback(serving.create_app(server, llm={"tinygpt": service}))
        stack.append(context)
        return context.__enter__(), service, server
    yield start
    for context in reversed(stack):
        context.__exit__(None, None, None)


def eventually(condition, timeout_s: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.005)


def body(text: str, **parameters) -> dict:
    return {"text_input": text, "parameters": parameters} if parameters else {"text_input": text}


def stream_events(client: httpx.Client, doc: dict) -> tuple[httpx.Response, list[dict]]:
    with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=doc) as r:
        r.read() if r.status_code != 200 else None
        lines = [] if r.status_code != 200 else [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    return r, [json.loads(line[len("data: "):]) for line in lines]


def check_events(events: list[dict]) -> str:
    """The streamed text, after checking the events' shape: indices 0..n-1, then one final event."""
    *tokens, final = events
    assert [e["index"] for e in tokens] == list(range(len(tokens)))
    assert all(set(e) == {"model_name", "text_output", "index"} for e in tokens), tokens
    assert {"finish_reason", "prompt_tokens", "completion_tokens"} <= set(final) and "index" not in final
    assert final["completion_tokens"] == len(tokens)
    return "".join(e["text_output"] for e in events)


# -- answers equal the reference ------------------------------------------------------------------
CASES = [  # (text, parameters)
    ("The function", {"max_tokens": 20}),
    ("import os", {}),  # defaults: 16 tokens, greedy
    ("Return the", {"max_tokens": 24, "temperature": 0.9, "seed": 7}),
    ("A list is", {"max_tokens": 30, "temperature": 1.2}),  # no seed: 0
]


def stop_cases() -> list:
    """Stop strings that do occur in the greedy generations (so each case really stops)."""
    cases = []
    for text in ("The function", "class Foo:"):
        full, _ = alone(text, 30)
        cases += [(text, {"max_tokens": 30, "stop": full[6:8]}), (text, {"max_tokens": 30, "stop": ["zzz", full[3:5]]}),
                  # ends "length" on the first character of a stop string: the final event releases it
                  (text, {"max_tokens": 12, "stop": full[11] + "\x01"})]
    return cases


def reference(text: str, parameters: dict) -> tuple[str, str]:
    """(text, finish reason) of tinygpt.generate alone with the request's parameters."""
    stop = parameters.get("stop", ())
    return alone(text, **{**parameters, "stop": (stop,) if isinstance(stop, str) else tuple(stop)})


@pytest.mark.timeout(60)
def test_generate_and_generate_stream_equal_the_reference_alone(served):
    url, service, _ = served(max_num_seqs=4, cache="paged")
    cases = CASES + stop_cases()
    with httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post("/v2/models/tinygpt/generate", json={**body(text, **p), "id": f"r{i}"})
                   for i, (text, p) in enumerate(cases)]
        streamed = [stream_events(client, body(text, **p)) for text, p in cases]
    for (text, p), r, (s, events) in zip(cases, answers, streamed):
        assert r.status_code == 200, r.text
        want_text, want_reason = reference(text, p)
        doc = r.json()
        assert (doc["text_output"], doc["finish_reason"]) == (want_text, want_reason), (text, p)
        assert doc["model_name"] == "tinygpt" and doc["model_version"] == "1" and doc["id"].startswith("r")
        assert doc["prompt_tokens"] == len(tinygpt.encode(text))
        assert s.status_code == 200 and s.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert check_events(events) == want_text, (text, p)
        assert {k: events[-1][k] for k in ("finish_reason", "prompt_tokens", "completion_tokens")} == \
            {k: doc[k] for k in ("finish_reason", "prompt_tokens", "completion_tokens")}
    assert {r.json()["finish_reason"] for r in answers} == {"length", "stop"}
    assert all(r.json()["completion_tokens"] > len(r.json()["text_output"]) for r in answers
               if r.json()["finish_reason"] == "stop")  # the stop's bytes were generated, not output


@pytest.mark.timeout(60)
def test_concurrent_streams_each_equal_their_generation_alone(served):
    url, service, _ = served(max_num_seqs=4, cache="paged")  # 6 streams, 4 slots: some wait, some join late
    params = [{"max_tokens": n} for n in (5, 40, 12, 33, 1, 25)]
    params[2].update(temperature=0.8, seed=3)

    async def one(client, text, p):
        async with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=body(text, **p)) as r:
            return r.status_code, [json.loads(line[6:]) async for line in r.aiter_lines() if line]

    async def scenario():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await asyncio.gather(*(one(client, t, p) for t, p in zip(PROMPTS, params)))

    results = asyncio.run(scenario())
    for text, p, (status, events) in zip(PROMPTS, params, results):
        assert status == 200
        assert (check_events(events), events[-1]["finish_reason"]) == alone(text, **p), (text, p)
    assert max(r.running.__len__() for r in service.batcher.log) == 4  # they did share the batch


class Guarded(Slow):
    """Records every call into the batcher that overlaps another one or runs on an event loop's thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inside, self.violations = threading.Lock(), []

    def _guard(self, call, *args):
        try:
            asyncio.get_running_loop()
            self.violations.append(f"{call.__name__} on the event loop's thread")
        except RuntimeError:
            pass  # a worker thread: no loop runs there
        if not self.inside.acquire(blocking=False):
            self.violations.append(f"{call.__name__} while another call was inside")
            return call(*args)
        try:
            return call(*args)
        finally:
            self.inside.release()

    def add(self, *args):
        return self._guard(super().add, *args)

    def abort(self, *args):
        return self._guard(super().abort, *args)

    def step(self):
        return self._guard(super().step)


@pytest.mark.timeout(60)
def test_calls_into_the_batcher_never_overlap_and_never_run_on_the_event_loop(served):
    url, service, _ = served(Guarded, max_num_seqs=3, max_waiting=2)
    params = [{"max_tokens": n} for n in (30, 8, 20, 3, 25, 12)] + [{"max_tokens": 40, "timeout_ms": 60}]

    async def one(client, text, p, hang_up_after=None):
        async with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=body(text, **p)) as r:
            async for line in r.aiter_lines():
                if r.status_code == 200 and line and hang_up_after is not None and \
                        json.loads(line[6:]).get("index", 0) >= hang_up_after:
                    break  # leaving the block closes the connection mid-stream
            return r.status_code

    async def scenario():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            return await asyncio.gather(*(one(client, t, p, 2 if i == 0 else None)
                                          for i, (t, p) in enumerate(zip(PROMPTS + PROMPTS, params))))

    statuses = asyncio.run(scenario())
    assert service.batcher.violations == [] and 200 in statuses and 503 in statuses  # adds refused too
    eventually(lambda: service.gauges["running"] == 0 and service.batcher.kv_reserved_tokens == 0)


# -- a client that goes away --------------------------------------------------------------------------
def open_stream(url: str, doc: dict) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=30)
    conn.request("POST", "/v2/models/tinygpt/generate_stream", body=json.dumps(doc),
                 headers={"content-type": "application/json"})
    answer = conn.getresponse()
    assert answer.status == 200
    return conn, answer


def hang_up(conn: http.client.HTTPConnection) -> None:
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


@pytest.mark.timeout(60)
def test_a_client_that_disconnects_aborts_its_sequence_and_frees_its_cache(served):
    url, service, _ = served(Slow, max_num_seqs=2, cache="paged", block_size=8)
    a_conn, a = open_stream(url, body("The function", max_tokens=60))  # request 0: running
    eventually(lambda: service.gauges["running"] == 1, what="request 0 running")
    with httpx.Client(base_url=url, timeout=30) as client:
        with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=body("import os", max_tokens=45)) as b:
            eventually(lambda: service.gauges["running"] == 2, what="request 1 running beside it")
            c_conn, _ = open_stream(url, body("Return the", max_tokens=20))  # request 2: waits for a slot
            hang_up(c_conn)  # gone while waiting: it must leave the queue, never admitted
            eventually(lambda: service.finished["abort"] == 1, what="the waiting request's client seen gone")
            for _ in range(3):
                assert a.readline().startswith(b"data: ")
                a.readline()
            hang_up(a_conn)
            eventually(lambda: service.finished["abort"] == 2, what="the running request's client seen gone")
            eventually(lambda: service.gauges["running"] <= 1, what="request 0 left the batch")
            blocks_after = service.gauges["kv_blocks_in_use"]
            b_events = [json.loads(line[6:]) for line in b.iter_lines() if line]
    log = list(service.batcher.log)
    a_steps = [r for r in log if 0 in r.running]
    abort_step = next(r for r in log if 0 in r.aborted)
    assert len(a_steps) < 30, f"request 0 decoded {len(a_steps)} steps after its client left"
    assert 1 in abort_step.running, "request 0 was not aborted while request 1 still ran"
    assert abort_step.kv_blocks_in_use < log[abort_step.step - 1].kv_blocks_in_use, "its blocks were not freed"
    assert not any(2 in r.admitted for r in log), "a request whose client left while waiting was admitted"
    assert blocks_after <= -(-(9 + 45) // 8)  # at most request 1's own blocks: (10 - 1 + 45) positions
    assert (check_events(b_events), b_events[-1]["finish_reason"]) == alone("import os", 45)
    assert service.batcher.kv_blocks_in_use == 0 and service.gauges["running"] == 0


@pytest.mark.timeout(60)
def test_a_full_waiting_queue_is_503_with_retry_after_before_any_stream_starts(served):
    url, service, _ = served(Slow, max_num_seqs=1, max_waiting=1)
    with httpx.Client(base_url=url, timeout=30) as client:
        with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=body("The function", max_tokens=40)):
            eventually(lambda: service.gauges["running"] == 1, what="the first request running")
            with client.stream("POST", "/v2/models/tinygpt/generate_stream", json=body("import os", max_tokens=40)):
                eventually(lambda: service.gauges["waiting"] == 1, what="the second request waiting")
                refused = [client.post("/v2/models/tinygpt/generate", json=body("Return the")),
                           stream_events(client, body("Return the"))[0]]
    for r in refused:
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1, r.text
        assert "waiting" in r.json()["error"] and r.headers["content-type"] == "application/json"


@pytest.mark.timeout(60)
def test_a_deadline_ends_the_generation_with_its_partial_output(served):
    url, service, _ = served(Slow, max_num_seqs=2)
    full, _ = alone("The function", 60)
    with httpx.Client(base_url=url, timeout=30) as client:
        r = client.post("/v2/models/tinygpt/generate", json=body("The function", max_tokens=60, timeout_ms=150))
        s, events = stream_events(client, body("The function", max_tokens=60, timeout_ms=150))
    doc = r.json()
    assert r.status_code == 200 and doc["finish_reason"] == "deadline", r.text
    assert 0 < len(doc["text_output"]) < len(full) and full.startswith(doc["text_output"])
    assert doc["completion_tokens"] == len(doc["text_output"].encode())  # every token delivered is output
    assert s.status_code == 200 and events[-1]["finish_reason"] == "deadline"
    text = check_events(events)
    assert 0 < len(text) < len(full) and full.startswith(text)
    assert service.finished["deadline"] == 2
    eventually(lambda: service.gauges["running"] == 0, what="the caches of the requests past their deadline freed")
    assert [r.aborted for r in service.batcher.log if r.aborted] == [(0,), (1,)], "not aborted at the deadline"


# -- refusals ---------------------------------------------------------------------------------------------
BAD = [  # (raw body, status, the start of the error)
    (b"{not json", 422, "body:"),
    (b"[1, 2]", 422, "body:"),
    (b'"text"', 422, "body:"),
    (json.dumps({"parameters": {}}).encode(), 422, "text_input:"),
    (json.dumps({"text_input": 3}).encode(), 422, "text_input:"),
    (json.dumps({"text_input": ""}).encode(), 422, "text_input:"),
    (json.dumps({"text_input": "x" * 64}).encode(), 422, "text_input:"),  # 65 tokens with the end-of-text
    (json.dumps({"text_input": "é" * 32}).encode(), 422, "text_input:"),  # 32 characters, 65 tokens
    (json.dumps({"text_input": "a\ud800"}).encode(), 422, "text_input:"),  # a lone surrogate: JSON, not UTF-8
    (json.dumps({"text_input": "hi", "prompt": "x"}).encode(), 422, "prompt:"),
    (json.dumps({"text_input": "hi", "id": 5}).encode(), 422, "id:"),
    (json.dumps({"text_input": "hi", "parameters": [1]}).encode(), 422, "parameters:"),
    (json.dumps(body("hi", max_tokens=0)).encode(), 422, "parameters.max_tokens:"),
    (json.dumps(body("hi", max_tokens=65)).encode(), 422, "parameters.max_tokens:"),
    (json.dumps(body("hi", max_tokens=2.0)).encode(), 422, "parameters.max_tokens:"),
    (json.dumps(body("hi", max_tokens=True)).encode(), 422, "parameters.max_tokens:"),
    (json.dumps(body("hi", max_tokens="8")).encode(), 422, "parameters.max_tokens:"),
    (json.dumps(body("hi", temperature=-0.5)).encode(), 422, "parameters.temperature:"),
    (json.dumps(body("hi", temperature="hot")).encode(), 422, "parameters.temperature:"),
    (json.dumps(body("hi", temperature=False)).encode(), 422, "parameters.temperature:"),
    (b'{"text_input": "hi", "parameters": {"temperature": 1e999}}', 422, "parameters.temperature:"),
    (b'{"text_input": "hi", "parameters": {"temperature": NaN}}', 422, "body:"),
    (json.dumps(body("hi", seed=-1)).encode(), 422, "parameters.seed:"),
    (json.dumps(body("hi", seed=1.5)).encode(), 422, "parameters.seed:"),
    (json.dumps(body("hi", seed=2 ** 63)).encode(), 422, "parameters.seed:"),
    (json.dumps(body("hi", stop="")).encode(), 422, "parameters.stop:"),
    (json.dumps(body("hi", stop=["a", ""])).encode(), 422, "parameters.stop:"),
    (json.dumps(body("hi", stop=["a", 3])).encode(), 422, "parameters.stop:"),
    (json.dumps(body("hi", stop={"a": 1})).encode(), 422, "parameters.stop:"),
    (json.dumps(body("hi", stop=["\udc00"])).encode(), 422, "parameters.stop:"),
    (json.dumps(body("hi", timeout_ms=0)).encode(), 422, "parameters.timeout_ms:"),
    (json.dumps(body("hi", max_token=8)).encode(), 422, "parameters.max_token:"),
    (json.dumps(body("hi", top_p=0.9)).encode(), 422, "parameters.top_p:"),
]


@pytest.mark.timeout(60)
def test_bad_requests_get_a_4xx_naming_the_field_on_both_routes(served):
    url, service, _ = served(max_num_seqs=2, max_tokens_per_step=64)
    with httpx.Client(base_url=url, timeout=30) as client:
        answers = {(route, i): client.post(f"/v2/models/tinygpt/{route}", content=raw,
                                           headers={"content-type": "application/json"})
                   for route in ("generate", "generate_stream") for i, (raw, _, _) in enumerate(BAD)}
        unknown = [client.post(f"/v2/models/{name}/{route}", json=body("hi")) for name in ("nope", "mlp")
                   for route in ("generate", "generate_stream")]
        ok = client.post("/v2/models/tinygpt/generate", json=body("x" * 63, max_tokens=64))  # the edge: fits
    for (route, i), r in answers.items():
        _, status, prefix = BAD[i]
        assert (r.status_code, r.json()["error"][:len(prefix)]) == (status, prefix), (route, BAD[i], r.text)
    assert [r.status_code for r in unknown] == [404] * 4 and all("nope" in r.json()["error"] or "mlp" in
                                                                 r.json()["error"] for r in unknown)
    assert ok.status_code == 200 and ok.json()["finish_reason"] == "length", ok.text
    assert service.submitted == 1


@pytest.mark.timeout(60)
def test_a_draining_server_refuses_generation_with_503(tmp_path):
    service = llm_service.LLMService("tinygpt", continuous.ContinuousBatcher(model()))
    server = serving.ModelServer(tmp_path)
    app = serving.create_app(server, llm={"tinygpt": service})

    async def scenario():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            before = await client.post("/v2/models/tinygpt/generate", json=body("hi", max_tokens=2))
            await server.drain()
            after = [await client.post(f"/v2/models/tinygpt/{route}", json=body("hi"))
                     for route in ("generate", "generate_stream")]
        await service.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before.status_code == 200, before.text
    for r in after:
        assert r.status_code == 503 and "draining" in r.json()["error"] and r.headers["retry-after"] == "1"


@pytest.mark.timeout(60)
def test_metrics_show_the_llm_histograms_counter_and_gauges_and_the_model_reports_like_any_other(served):
    url, service, server = served(max_num_seqs=2, cache="paged")
    with httpx.Client(base_url=url, timeout=30) as client:
        for text in PROMPTS[:3]:
            assert client.post("/v2/models/tinygpt/generate", json=body(text, max_tokens=5)).status_code == 200
        metrics = client.get("/metrics").text
        report = client.get("/admin/stats").json()["generation"]["tinygpt"]
        ready, meta = client.get("/v2/models/tinygpt/ready"), client.get("/v2/models/tinygpt").json()
        assert client.get("/v2/models/tinygpt/versions/1/ready").status_code == 200
        assert client.get("/v2/models/nothing/ready").status_code == 404
    for line in ('mlserve_llm_time_to_first_token_seconds_count{model="tinygpt"} 3.0',
                 'mlserve_llm_time_per_output_token_seconds_count{model="tinygpt"} 3.0',
                 'mlserve_llm_generated_tokens_total{model="tinygpt"} 15.0',
                 'mlserve_llm_running_sequences{model="tinygpt"} 0.0',
                 'mlserve_llm_waiting_sequences{model="tinygpt"} 0.0',
                 'mlserve_llm_kv_blocks_in_use{model="tinygpt"} 0.0'):
        assert line in metrics, line
    stats = service.stats()
    assert stats["generated_tokens"] == 15 and stats["finished"] == {"length": 3}
    counts = ("generated_tokens", "finished", "steps", "running", "waiting", "kv_blocks_in_use")
    assert {k: report[k] for k in counts} == {k: stats[k] for k in counts}
    assert server.get_metrics()["generation"]["tinygpt"]["time_to_first_token_s"] == stats["time_to_first_token_s"]
    assert ready.status_code == 200 and ready.json() == {"name": "tinygpt", "ready": True, "state": "READY"}
    assert meta["inputs"] == [{"name": "text_input", "datatype": "BYTES", "shape": [1]}]
    assert meta["outputs"] == [{"name": "text_output", "datatype": "BYTES", "shape": [1]}]
    assert meta["parameters"] == {"context": model().config.context, "max_num_seqs": 2, "max_tokens_per_step": 128, "max_waiting": 64,
                                  "cache": "paged", "batching": "continuous"}
    assert 0 < stats["time_to_first_token_s"]["p50"] < 10 and 0 < stats["time_per_output_token_s"]["p50"] < 10


@pytest.mark.scaffold  # the service's plumbing: the same in the starter
def test_ready_takes_what_is_queued_up_to_the_finished_and_never_waits():
    async def scenario():
        stream = llm_service.Stream(None, 0, 3, 0.0)
        assert stream.ready() == []  # nothing queued: no wait
        end = llm_service.Finished("length", (1, 2, 3), 3, 3)
        for item in (1, 2, end, 9):  # 9: anything after the Finished is never read
            stream.queue.put_nowait(item)
        first = await stream.__anext__()
        rest = stream.ready()
        assert [first, *rest] == [1, 2, end] and stream.ready() == []
        assert [item async for item in stream] == []
    asyncio.run(scenario())


# -- the streamed text (pure) -----------------------------------------------------------------------------
ALPHABET = list(b"ab \n") + list("é€".encode())  # bytes that make stops match and UTF-8 split


@settings(max_examples=400, deadline=None)
@given(tokens=st.lists(st.one_of(st.sampled_from(ALPHABET), st.integers(0, 256)), max_size=30),
       stop=st.lists(st.text(alphabet="ab é€\n", min_size=1, max_size=3), max_size=3),
       max_tokens=st.integers(1, 30), cut=st.integers(0, 30))
@example(tokens=list(b"xab"), stop=["b", "ab"], max_tokens=10, cut=30)  # the longest match is removed
@example(tokens=list("é".encode()) + [256], stop=[], max_tokens=10, cut=30)  # a character across tokens
@example(tokens=list(b"xa"), stop=["ab"], max_tokens=2, cut=30)  # ends "length" on a stop's prefix
@example(tokens=list("aé".encode()), stop=["é"], max_tokens=9, cut=2)  # cut inside a stop and a character
def test_the_streamed_text_concatenates_to_the_decoded_output(tokens, stop, max_tokens, cut):
    """The engine's stopping rule applied token by token, the generation cut short after `cut` tokens as a
    deadline does: the pushed texts and the rest always make tinygpt.decode(output), and nothing is held
    back that could not still turn out to be a stop string."""
    generated, output = [], None
    for token in tokens[:cut]:
        generated.append(token)
        reason, keep = tinygpt.finish_check(1, generated, max_tokens, tuple(stop), 10 ** 6)
        if reason is not None:
            output = generated[:keep]
            break
    output = list(generated) if output is None else output  # cut short: every token so far
    text, pieces, longest = llm_http.StreamText(stop), [], max((len(s.encode()) for s in stop), default=0)
    for i, token in enumerate(generated):
        pieces.append(text.push(token))
        byte_count = sum(1 for t in generated[:i + 1] if t < 256)
        assert text.sent >= byte_count - longest  # held back: at most a stop string's length
    assert "".join(pieces) + text.finish(output) == tinygpt.decode(output)


def test_without_stop_strings_ascii_text_streams_with_every_token():
    text = llm_http.StreamText(())
    assert [text.push(t) for t in b"hi there"] == list("hi there") and text.finish(list(b"hi there")) == ""
