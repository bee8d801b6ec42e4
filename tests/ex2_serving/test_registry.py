"""Registry: safe formats, sha256 verification, pickle only with trust (scaffolding: no learner region)."""
import json

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier

from mlpractice.data.serving import classification_data

from . import poison

pytestmark = pytest.mark.scaffold


@pytest.fixture
def fresh(serving, tmp_path):
    return serving.ModelRegistry(tmp_path / "reg")


def test_sklearn_roundtrip_through_skops(fresh):
    X, y = classification_data(n=200, n_features=5, seed=1)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert fresh.register("forest", forest) == 1
    manifest = fresh.manifest("forest")
    assert (manifest["flavor"], manifest["format"], manifest["artifact"]) == ("sklearn", "skops", "model.skops")
    assert manifest["input_schema"]["shape"] == [-1, 5] and len(manifest["sha256"]) == 64
    loaded = fresh.load("forest")
    np.testing.assert_allclose(np.stack(loaded.predictor.predict(X[:20])), forest.predict_proba(X[:20]))


def test_pytorch_roundtrip_through_safetensors_and_torchscript(serving, fresh):
    torch.manual_seed(0)
    mlp = serving.MLP(6, 16, 3)
    X = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    expected = mlp(torch.from_numpy(X)).detach().numpy()
    v1 = fresh.register("net", mlp)
    assert fresh.manifest("net", v1)["format"] == "safetensors"
    np.testing.assert_allclose(np.stack(fresh.load("net", v1).predictor.predict(X)), expected, rtol=1e-5)
    with pytest.warns(DeprecationWarning):
        scripted = torch.jit.script(mlp)
    v2 = fresh.register("net", scripted, input_dim=6)
    assert (v2, fresh.manifest("net", v2)["format"]) == (2, "torchscript")
    np.testing.assert_allclose(np.stack(fresh.load("net", v2).predictor.predict(X)), expected, rtol=1e-5)


def test_versions_aliases_and_unknowns(serving, fresh):
    X, y = classification_data(n=50, n_features=3, seed=0)
    for _ in range(3):
        fresh.register("m", RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y))
    fresh.set_alias("m", "prod", 2)
    assert fresh.versions("m") == [1, 2, 3]
    assert [fresh.resolve("m"), fresh.resolve("m", "latest"), fresh.resolve("m", "prod"), fresh.resolve("m", "1")] \
        == [3, 3, 2, 1]
    for bad in [("m", 9), ("m", "staging"), ("nope", None)]:
        with pytest.raises(serving.ModelNotFound):
            fresh.resolve(*bad)
    with pytest.raises(ValueError, match="shadow"):
        fresh.set_alias("m", "7", 1)


def test_pickle_needs_trust_both_ways(serving, fresh):
    with pytest.raises(serving.UntrustedArtifact, match="trust=True"):
        fresh.register("p", poison.PoisonOnNegative(), input_dim=3, format="pickle")
    fresh.register("p", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)
    with pytest.raises(serving.UntrustedArtifact, match="pickle"):
        fresh.load("p")
    assert fresh.load("p", trust=True).predictor.predict(np.ones((2, 3), np.float32)) == [3.0, 3.0]


def test_plain_object_is_never_silently_pickled(serving, fresh):
    with pytest.raises(TypeError, match="pickle"):
        fresh.register("p", poison.PoisonOnNegative(), input_dim=3)


@pytest.mark.parametrize("trust", [False, True])
def test_tampered_artifact_is_refused(serving, fresh, trust):
    fresh.register("p", poison.PoisonOnNegative(), input_dim=3, format="pickle", trust=True)
    artifact = fresh.root / "p" / "1" / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"\x00")
    with pytest.raises(serving.UntrustedArtifact, match="sha256 mismatch"):
        fresh.load("p", trust=trust)


def test_skops_types_nobody_vouched_for_are_refused(serving, fresh):
    X, y = classification_data(n=50, n_features=3, seed=0)
    fresh.register("m", RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y))
    path = fresh.root / "m" / "1" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format"] = "skops"
    manifest["trusted_types"] = []
    import skops.io as sio
    needed = sio.get_untrusted_types(file=fresh.root / "m" / "1" / "model.skops")
    path.write_text(json.dumps(manifest))
    if needed:
        with pytest.raises(serving.UntrustedArtifact, match="vouched"):
            fresh.load("m")
    else:
        assert fresh.load("m").manifest["format"] == "skops"


def test_demo_registry_command(serving, tmp_path, capsys):
    from mlpractice.impl import load
    assert load("serving.__main__").main(["demo-registry", str(tmp_path / "demo")]) == 0
    registry = serving.ModelRegistry(tmp_path / "demo")
    assert registry.models() == ["mlp", "tabular"] and registry.versions("mlp") == [1, 2]
    assert registry.manifest("tabular")["flavor"] == "sklearn" and registry.manifest("mlp")["flavor"] == "pytorch"
    assert registry.resolve("mlp", "prod") == 1 and "mlp: versions [1, 2]" in capsys.readouterr().out


def test_names_and_versions_are_checked_on_every_read(serving, fresh, tmp_path):
    X, y = classification_data(n=50, n_features=3, seed=0)
    fresh.register("m", RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y))
    fresh.set_alias("m", "prod", 1)
    import shutil
    shutil.copytree(fresh.root / "m" / "1", fresh.root.parent / "1")  # a valid manifest just outside the root
    for name in ["..", ".", "", "../reg/m", "m/../m", "m\n", "m\x00", "\u00e9t\u00e9", "a" * 65, None, 3]:
        assert fresh.versions(name) == [] and fresh.aliases(name) == {}, name
        for read in (fresh.resolve, fresh.manifest, fresh.load):
            with pytest.raises(serving.ModelNotFound, match="invalid model name"):
                read(name)
    for version in ["\u00b2", "\u0661", "1/../1", "9" * 5000, True, 1.0, -1, 0, [1]]:
        with pytest.raises(serving.ModelNotFound):
            fresh.resolve("m", version)
    assert [fresh.resolve("m", v) for v in (1, "1", "prod", "latest", None)] == [1] * 5
    with pytest.raises(ValueError, match="name"):
        fresh.register("..", RandomForestClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(ValueError, match="alias"):
        fresh.set_alias("m", "../x", 1)


@pytest.mark.parametrize("field, value", [("artifact", "../../1/model.skops"), ("version", 2), ("name", "other")])
def test_a_manifest_that_points_elsewhere_is_refused(serving, fresh, field, value):
    X, y = classification_data(n=50, n_features=3, seed=0)
    fresh.register("m", RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y))
    path = fresh.root / "m" / "1" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, field: value}))
    with pytest.raises(serving.UntrustedArtifact, match=field):
        fresh.load("m", 1)


def test_lookups_are_answered_from_memory_and_refreshed_on_change(serving, tmp_path, monkeypatch):
    import pathlib
    X, y = classification_data(n=50, n_features=3, seed=0)
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y)
    clock = [0.0]
    reader = serving.ModelRegistry(tmp_path / "r", recheck_s=1.0, clock=lambda: clock[0])
    writer = serving.ModelRegistry(tmp_path / "r")  # another process, say
    writer.register("m", model)
    writer.register("m", model)
    writer.set_alias("m", "prod", 1)
    assert reader.resolve("m", "prod") == 1 and reader.models() == ["m"] and reader.manifest("m", 1)["version"] == 1
    with pytest.raises(serving.ModelNotFound):
        reader.resolve("nope")  # a miss checks the disk once per recheck_s
    reads = []
    for attr in ("read_text", "iterdir", "stat", "exists", "is_dir"):
        real = getattr(pathlib.Path, attr)
        monkeypatch.setattr(pathlib.Path, attr, lambda self, *a, _real=real, _attr=attr, **k:
                            (reads.append((_attr, self)), _real(self, *a, **k))[1])
    for _ in range(100):
        assert (reader.resolve("m"), reader.resolve("m", "prod"), reader.resolve("m", "1")) == (2, 1, 1)
        assert reader.versions("m") == [1, 2] and reader.aliases("m") == {"prod": 1}
        assert reader.manifest("m", "prod")["version"] == 1 and reader.versions("nope") == []
        with pytest.raises(serving.ModelNotFound):
            reader.resolve("m", "staging")
    assert reads == []
    monkeypatch.undo()

    writer.register("m", model)  # v3, and prod -> 2, behind the reader's back
    writer.set_alias("m", "prod", 2)
    assert (reader.resolve("m"), reader.resolve("m", "prod")) == (2, 1)  # stale until a refresh
    assert reader.refresh_if_changed() and (reader.resolve("m"), reader.resolve("m", "prod")) == (3, 2)
    assert not reader.refresh_if_changed()
    writer.register("m", model)  # v4: the first miss after recheck_s finds it
    with pytest.raises(serving.ModelNotFound):
        reader.resolve("m", 4)
    clock[0] += 1.5
    assert reader.resolve("m", 4) == 4
    reader.register("n", model)  # writes through a registry are seen by it at once
    reader.set_alias("m", "canary", 4)
    assert reader.versions("n") == [1] and reader.resolve("m", "canary") == 4 and reader.models() == ["m", "n"]
    writer.set_alias("m", "prod", 3)
    reader.refresh()
    assert reader.resolve("m", "prod") == 3
