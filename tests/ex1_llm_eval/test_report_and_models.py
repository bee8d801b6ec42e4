"""The report and the model adapters (a real OpenAI-compatible server on loopback)."""
import pytest

from mlpractice.data.llm_eval import SYSTEMS, eval_set
from mlpractice.impl import load
from mlpractice.net import uvicorn_on_loopback

llm_eval = load("llm_eval")
pytestmark = pytest.mark.exercise("1.7", "paired bootstrap comparison and report (stretch)")


@pytest.mark.scaffold  # the report is given code (its numbers come from compare, tested in test_compare.py)
def test_report_has_table_significance_trend_worst_items_and_warnings(tmp_path):
    data = eval_set(24)
    evaluator = llm_eval.Evaluator(["bleu", "rouge", "f1"])
    with pytest.warns(UserWarning, match="rougeLsum splits sentences on newlines"):  # one-line summaries
        results = {s: evaluator.evaluate([x["outputs"][s] for x in data], data, model_name=s) for s in SYSTEMS}
    comparison = llm_eval.compare(results, n_samples=100)
    tracker = llm_eval.EvalTracker(":memory:")
    for t, s in enumerate(SYSTEMS):
        tracker.log(results[s], timestamp=float(t))
    html_path, md_path = llm_eval.generate_report(comparison, results, tmp_path / "report",
                                                  history=tracker.history(), worst_k=2)
    page, md = html_path.read_text(), md_path.read_text()
    for needle in ["Metrics", "Significance", "Worst items", "Warnings", "data:image/png;base64",
                   "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp", "rougeLsum equals rougeL"]:
        assert needle in page
    assert "hallucinated" in md and "## Worst items" in md
    assert md.count("- **bleu**") == 2 * len(SYSTEMS)


@pytest.fixture(scope="module")
def completions_server():
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/v1/completions")
    def completions(body: dict):
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        choices = [{"index": i, "text": " " + p.split(":", 1)[-1].strip().upper()} for i, p in enumerate(prompts)]
        return {"object": "text_completion", "model": body["model"], "choices": choices[::-1]}

    with uvicorn_on_loopback(app) as url:
        yield url


@pytest.mark.scaffold  # the model adapters are given code
@pytest.mark.timeout(30)
def test_openai_compatible_endpoint_and_callable_adapters(completions_server):
    data = [{"prompt": f"Shout: word {i}", "reference": f"WORD {i}"} for i in range(5)]
    remote = llm_eval.OpenAICompletions(completions_server, "echo-upper")
    local = llm_eval.CallableModel(lambda p: p.split(":", 1)[1].strip().upper())
    evaluator = llm_eval.Evaluator(["exact_match"])
    assert evaluator.evaluate(remote, data, batch_size=2)["exact_match"].value == 1.0
    assert evaluator.evaluate(local, data)["exact_match"].value == 1.0
