"""2.4 over HTTP: the Open Inference Protocol's REST documents, every answer checked against oip.py's schemas.

The request id at the top level, echoed; server metadata at GET /v2; model metadata with the shape and
true datatype of every output; readiness 200 when ready and 400 when not (the protocol: "a 4xx status code
indicates false"; Triton answers 400); infer outputs labelled with their real dtype.
"""
import numpy as np
import pytest

from mlpractice.data.serving import classification_data

from . import oddmodels, oip, poison
from .conftest import run
from .http_app import body, served

pytestmark = pytest.mark.exercise("2.4", "the request path")

X, _ = classification_data(n=8, n_features=8, seed=3)


@pytest.fixture(scope="module")
def odd_root(tmp_path_factory):
    from mlpractice.impl import load
    root = tmp_path_factory.mktemp("odd")
    registry = load("serving").ModelRegistry(root)
    for name, model in [("f64", oddmodels.Float64Sum()), ("argmax", oddmodels.Int64Argmax()),
                        ("nan", oddmodels.NaNOnNonZero()), ("broken", poison.AlwaysFails())]:
        registry.register(name, model, input_dim=8, format="pickle", trust=True)
    return root


def test_request_id_is_read_at_the_top_level_and_echoed(serving, registry):
    async def scenario():
        async with served(serving, registry, [("tabular", None)]) as (client, server, _):
            with_id = await client.post("/v2/models/tabular/infer", json={**body(X[:2]), "id": "req-42"})
            without = await client.post("/v2/models/tabular/infer", json=body(X[:1]))
            empty = await client.post("/v2/models/tabular/infer", json={**body(X[:1]), "id": ""})
            return with_id, without, empty

    with_id, without, empty = run(scenario())
    assert with_id.status_code == 200 and with_id.json()["id"] == "req-42", with_id.text
    assert without.status_code == 200 and "id" not in without.json(), without.text
    assert empty.json()["id"] == "", empty.text


@pytest.mark.scaffold
def test_server_metadata(serving, registry):
    async def scenario():
        async with served(serving, registry, []) as (client, server, _):
            return await client.get("/v2"), await client.get("/v2/")

    for answer in run(scenario()):
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] and isinstance(answer.json()["extensions"], list)


@pytest.mark.scaffold
def test_model_metadata_gives_every_output_its_shape_and_true_datatype(serving, registry, odd_root):
    async def scenario():
        async with served(serving, registry, []) as (client, server, _):
            demo = [await client.get(p) for p in ("/v2/models/tabular", "/v2/models/mlp/versions/1",
                                                  "/v2/models/mlp/versions/canary")]
        async with served(serving, serving.ModelRegistry(odd_root), []) as (client, server, _):
            odd = [await client.get(p) for p in ("/v2/models/f64", "/v2/models/argmax")]
        return demo + odd

    answers = run(scenario())
    outputs = [(r.status_code, r.json()["outputs"]) for r in answers]
    assert outputs == [(200, [{"name": "output-0", "datatype": dt, "shape": shape}]) for dt, shape in
                       [("FP32", [-1, 3]), ("FP32", [-1, 3]), ("FP32", [-1, 3]), ("FP64", [-1]), ("INT64", [-1])]]
    assert answers[2].json()["version"] == "2"  # canary -> v2
    assert answers[0].json()["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 8]}]


def test_infer_outputs_carry_their_true_datatype(serving, registry, odd_root):
    tabular = registry.load("tabular").predictor.estimator.predict_proba(X[:3].astype(np.float32))

    async def scenario():
        async with served(serving, registry, [("tabular", None), ("mlp", 2)]) as (client, server, _):
            demo = [await client.post(f"/v2/models/{m}/infer", json=body(X[:3])) for m in ("tabular", "mlp")]
        async with served(serving, serving.ModelRegistry(odd_root), [("f64", None), ("argmax", None)]) \
                as (client, server, _):
            odd = [await client.post(f"/v2/models/{m}/infer", json=body(X[:3])) for m in ("f64", "argmax")]
        return demo + odd

    answers = run(scenario())
    tensors = [r.json()["outputs"][0] for r in answers]
    # scikit-learn keeps the float32 of its input, torch computes in float32, Float64Sum answers float64
    assert [(t["datatype"], t["shape"]) for t in tensors] == [("FP32", [3, 3]), ("FP32", [3, 3]), ("FP64", [3]),
                                                            ("INT64", [3])]
    np.testing.assert_allclose(np.reshape(tensors[0]["data"], (3, 3)), tabular, rtol=1e-6)
    np.testing.assert_allclose(tensors[2]["data"], X[:3].astype(np.float32).sum(axis=1), rtol=1e-6)
    assert tensors[3]["data"] == np.argmax(X[:3], axis=1).tolist()


@pytest.mark.scaffold
def test_not_ready_is_400_and_unknown_is_404(serving, registry):
    async def scenario():
        async with served(serving, registry, [], required_models=["tabular"]) as (client, server, _):
            return [await client.get(p) for p in (
                "/v2/health/ready", "/v2/models/tabular/ready", "/v2/models/mlp/versions/2/ready",
                "/v2/models/mlp/versions/prod/ready", "/v2/models/nope/ready", "/v2/models/mlp/versions/9/ready",
                "/v2/health/live")]

    answers = run(scenario())
    assert [r.status_code for r in answers] == [400, 400, 400, 400, 404, 404, 200], [r.text for r in answers]
    assert answers[1].json() == {"name": "tabular", "ready": False, "state": "UNLOADED"}


def test_ready_is_200(serving, registry):
    async def scenario():
        async with served(serving, registry, [("tabular", None), ("mlp", 1)]) as (client, server, _):
            return [await client.get(p) for p in ("/v2/health/ready", "/v2/models/tabular/ready",
                                                  "/v2/models/mlp/versions/prod/ready",
                                                  "/v2/models/mlp/versions/2/ready")]

    answers = run(scenario())
    assert [r.status_code for r in answers] == [200, 200, 200, 400], [r.text for r in answers]
    assert answers[2].json() == {"name": "mlp", "ready": True, "state": "READY"}


def test_every_error_of_the_infer_route_is_an_error_document(serving, registry, odd_root):
    """A model that raises or answers NaN: 500 with {"error": ...}; the schema check runs on every answer."""
    async def scenario():
        async with served(serving, serving.ModelRegistry(odd_root), [("nan", None), ("broken", None)]) \
                as (client, server, _):
            answers = [await client.post(f"/v2/models/{m}/infer", json=body(X[:1])) for m in ("nan", "broken")]
            zeros = await client.post("/v2/models/nan/infer", json=body(np.zeros((1, 8))))
            return answers, zeros, server.get_metrics()["models"]

    answers, zeros, stats = run(scenario())
    assert [r.status_code for r in answers] == [500, 500], [r.text for r in answers]
    assert "NaN" in answers[0].json()["error"] and "broken" in answers[1].json()["error"]
    assert zeros.status_code == 200, zeros.text
    assert (stats["nan"][1]["ok"], stats["nan"][1]["errors"]) == (1, 1)


@pytest.mark.scaffold
def test_the_schemas_accept_the_specification_examples():
    oip.validate("inference_request", {"id": "42", "inputs": [
        {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
        {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True]}], "outputs": [{"name": "output0"}]})
    oip.validate("inference_response", {"id": "42", "model_name": "m", "outputs": [
        {"name": "output0", "shape": [3, 2], "datatype": "FP32", "data": [1.0, 1.1, 2.0, 2.1, 3.0, 3.1]}]})
    with pytest.raises(AssertionError, match="shape"):
        oip.validate("metadata_model_response", {"name": "m", "platform": "p", "inputs": [],
                                                 "outputs": [{"name": "o", "datatype": "FP32"}]})
    with pytest.raises(AssertionError, match="values"):
        oip.check_output({"name": "o", "shape": [2, 2], "datatype": "FP32", "data": [1.0, 2.0, 3.0]})
