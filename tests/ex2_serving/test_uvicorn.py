"""End to end: the real app under uvicorn on a free loopback port (always shut down): 2.4, and 2.8 at shutdown."""
import http.client
import json

import pytest

from mlpractice.data.serving import classification_data
from mlpractice.net import uvicorn_on_loopback

from . import oip

pytestmark = pytest.mark.exercise("2.4", "the request path")


@pytest.mark.timeout(90)
def test_real_server_answers_and_shuts_down_cleanly(serving, registry):
    server = serving.ModelServer(registry, max_batch_size=8, max_wait_ms=2)
    app = serving.create_app(server)
    X, _ = classification_data(n=8, n_features=8, seed=9)
    with uvicorn_on_loopback(app) as url:
        with oip.http_client(url, timeout=10) as client:
            for name in ("tabular", "mlp"):  # the admin endpoint: the test client is on loopback
                loaded = client.post(f"/v2/repository/models/{name}/load")
                assert loaded.status_code == 200, loaded.text
            ready = client.get("/v2/health/ready")
            answers = [client.post("/v2/models/mlp/infer", json={"inputs": [
                {"name": "input-0", "shape": [1, 8], "datatype": "FP32", "data": x.tolist()}]}) for x in X]
            for r in answers:
                assert r.status_code == 200, r.text
            metrics = client.get("/metrics").text
    assert ready.status_code == 200, ready.text
    assert {r.json()["model_version"] for r in answers} == {"2"}
    assert 'mlserve_requests_total{model="mlp",status="ok",version="2"} 8.0' in metrics
    assert server.loaded_versions() == []  # shut down and unloaded (drained, once 2.8 is done)


@pytest.mark.exercise("2.8", "graceful drain")
@pytest.mark.timeout(90)
def test_real_server_drains_on_shutdown(serving, registry):
    server = serving.ModelServer(registry, max_batch_size=8, max_wait_ms=2)
    with uvicorn_on_loopback(serving.create_app(server, load_models=["mlp"])) as url:
        with oip.http_client(url, timeout=10) as client:
            assert client.get("/v2/health/ready").status_code == 200
    assert server.draining and server.loaded_versions() == []
    assert [e for e in server.events if e["event"] == "unloaded"], server.events  # drain unloads; close does not


@pytest.fixture(scope="module")
def failing_root(tmp_path_factory):
    from mlpractice.impl import load

    from . import oddmodels, poison
    root = tmp_path_factory.mktemp("failing")
    registry = load("serving").ModelRegistry(root)
    registry.register("nan", oddmodels.NaNOnNonZero(), input_dim=8, format="pickle", trust=True)
    registry.register("broken", poison.AlwaysFails(), input_dim=8, format="pickle", trust=True)
    return root


def request(conn: http.client.HTTPConnection, method: str, path: str, body=None, **kw):
    conn.request(method, path, body=body, **kw)
    answer = conn.getresponse()
    return answer.status, answer.getheader("content-type"), answer.getheader("connection"), answer.read()


@pytest.mark.timeout(90)
def test_a_model_error_is_a_json_500_on_a_connection_that_stays_open_and_counts_as_error(serving, failing_root):
    server = serving.ModelServer(failing_root, trust=True)
    row = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 8], "datatype": "FP32", "data": [0.5] * 8}]})
    with uvicorn_on_loopback(serving.create_app(server, load_models=["nan", "broken"])) as url:
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=10)
        answers = [request(conn, "POST", f"/v2/models/{m}/infer", row) for m in ("nan", "broken")]
        sock = conn.sock
        live = request(conn, "GET", "/v2/health/live")
        assert conn.sock is sock, "the server closed the keep-alive connection after a 500"
        metrics = request(conn, "GET", "/metrics")[3].decode()
        conn.close()
    for status, ctype, connection, text in answers:
        assert (status, ctype, connection) == (500, "application/json", None), (status, ctype, text)
        assert set(json.loads(text)) == {"error"}
    assert live[0] == 200
    for m in ("nan", "broken"):
        assert f'mlserve_requests_total{{model="{m}",status="error",version="1"}} 1.0' in metrics, metrics
        assert f'model="{m}",status="ok"' not in metrics, metrics


@pytest.mark.scaffold
@pytest.mark.timeout(90)
def test_a_chunked_upload_over_the_limit_gets_413_and_the_connection_stays_usable(serving, registry):
    server = serving.ModelServer(registry)
    chunk = b" " * (256 << 10)
    with uvicorn_on_loopback(serving.create_app(server, max_body_bytes=1 << 20)) as url:
        conn = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=30)
        big = request(conn, "POST", "/v2/models/tabular/infer", (chunk for _ in range(32)), encode_chunked=True,
                      headers={"content-type": "application/json"})
        sock = conn.sock
        after = request(conn, "GET", "/v2/health/live")
        same = conn.sock is sock
        conn.close()
    assert big[0] == 413 and json.loads(big[3])["error"].startswith("body:"), big
    assert after[0] == 200 and same


@pytest.mark.scaffold
@pytest.mark.timeout(90)
def test_an_alias_moved_on_disk_is_followed_without_a_restart(serving, demo_root, tmp_path):
    import shutil
    import time
    shutil.copytree(demo_root / "mlp", tmp_path / "registry" / "mlp")
    server = serving.ModelServer(tmp_path / "registry")
    other = serving.ModelRegistry(tmp_path / "registry")  # another process, say a deploy script
    with uvicorn_on_loopback(serving.create_app(server, registry_poll_s=0.05)) as url:
        with oip.http_client(url, timeout=10) as client:
            before = client.get("/v2/models/mlp/versions/prod").json()["version"]
            other.set_alias("mlp", "prod", 2)
            deadline = time.monotonic() + 10  # the poll runs every 0.05 s: a wide margin
            while client.get("/v2/models/mlp/versions/prod").json()["version"] != "2":
                assert time.monotonic() < deadline, "the server never saw the alias move"
                time.sleep(0.05)
    assert before == "1"
