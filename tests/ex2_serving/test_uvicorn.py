"""End to end: the real app under uvicorn on a free loopback port (always shut down): 2.4, and 2.8 at shutdown."""

import httpx
import pytest

from mlpractice.data.serving import classification_data
from mlpractice.net import uvicorn_on_loopback

pytestmark = pytest.mark.exercise("2.4", "the request path")


@pytest.mark.timeout(90)
def test_real_server_answers_and_shuts_down_cleanly(serving, registry):
    server = serving.ModelServer(registry, max_batch_size=8, max_wait_ms=2)
    app = serving.create_app(server)
    X, _ = classification_data(n=8, n_features=8, seed=9)
    with uvicorn_on_loopback(app) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
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
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/v2/health/ready").status_code == 200
    assert server.draining and server.loaded_versions() == []
    assert [e for e in server.events if e["event"] == "unloaded"], server.events  # drain unloads; close does not
