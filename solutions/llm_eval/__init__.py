"""Exercise 1: an LLM evaluation framework whose metrics agree exactly with sacreBLEU and rouge-score.

Reading order: tokenizers -> bleu -> rouge -> chrf -> metric (the protocol) -> builtin_metrics -> evaluator,
then the stretch parts: language_model + perplexity, similarity, compare, tracker, report, models,
passk + sandbox + code_eval (pass@k for generated code), multiple_choice (log-likelihood and calibration),
judge (a pairwise judge asked in both orders).
"""
from .bleu import BLEUScore, BLEUSignature, BLEUStats, corpus_bleu, sentence_bleu
from .rouge import Score, rouge
from .chrf import CHRFScore, CHRFSignature, CHRFStats, corpus_chrf, sentence_chrf
from .metric import Metric, MetricResult, Sums, get_metric, register_metric, registered_metrics
from . import builtin_metrics  # noqa: F401  (registers bleu, chrf, sentence_bleu, rouge, exact_match, f1, accuracy)
from .builtin_metrics import normalize_answer, token_f1
from .evaluator import EvalResult, Evaluator
from .language_model import HFCausalLM, LanguageModel, NgramLM, TinyGPTLM
from .perplexity import PerplexityResult, perplexity  # registers perplexity
from .similarity import CachedEmbedder, MiniLMEmbedder, semantic_similarity  # registers semantic_similarity
from .compare import Comparison, compare
from .tracker import EvalTracker, Regression
from .report import generate_report
from .passk import mean_pass_at_k, pass_at_k
from .sandbox import Limits, SampleResult, run_sample
from .code_eval import CodeEvalResult, evaluate_code
from .multiple_choice import MCResult, Question, evaluate_multiple_choice
from .judge import BiasedJudge, JudgeItem, JudgeResult, LikelihoodJudge, evaluate_judge
from .models import CallableModel, HFGenerator, OpenAICompletions

__all__ = [
    "BLEUScore", "BLEUSignature", "BLEUStats", "corpus_bleu", "sentence_bleu", "Score", "rouge",
    "CHRFScore", "CHRFSignature", "CHRFStats", "corpus_chrf", "sentence_chrf",
    "Metric", "MetricResult", "Sums", "get_metric", "register_metric", "registered_metrics",
    "normalize_answer", "token_f1", "EvalResult", "Evaluator", "HFCausalLM", "LanguageModel", "NgramLM",
    "TinyGPTLM",
    "PerplexityResult", "perplexity", "CachedEmbedder", "MiniLMEmbedder", "semantic_similarity",
    "Comparison", "compare", "EvalTracker", "Regression", "generate_report",
    "mean_pass_at_k", "pass_at_k", "Limits", "SampleResult", "run_sample", "CodeEvalResult", "evaluate_code",
    "MCResult", "Question", "evaluate_multiple_choice",
    "BiasedJudge", "JudgeItem", "JudgeResult", "LikelihoodJudge", "evaluate_judge",
    "CallableModel", "HFGenerator", "OpenAICompletions",
]
