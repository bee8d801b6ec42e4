"""Hypothesis strategies shared by the exercise-1 property tests: messy text like real model output."""
from hypothesis import strategies as st

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "The", "CAT", "running", "runs", "ran",
         "generalization", "models", "model", "3.5", "1,000", "2-3", "9-", "U.S.", "it's", "don't",
         "e.g.", "&amp;", "&quot;", "&lt;b&gt;", "<skipped>", "co-\noperate", "x", "(see", "note)",
         "naïve", "café", "Straße", "日本語", "😀", "Ωmega", "—", "…", "«quote»", "$5", "50%", "#1",
         "a.b,c", ".", ",", "!", "?", ";", ":", "-", "'", '"', "K", "İstanbul", "ﬁne"]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\t", ""]

words_text = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=14).map(
    lambda parts: "".join(w + s for w, s in parts))
any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=25)
text = st.one_of(words_text, words_text, words_text, any_text, st.just(""))


def texts(min_size=0, max_size=8):
    return st.lists(text, min_size=min_size, max_size=max_size)


def references(max_refs=3):
    """One item's references: a string, or a non-empty list of strings."""
    return st.one_of(text, st.lists(text, min_size=1, max_size=max_refs))


@st.composite
def aligned_corpus(draw, min_size=1, max_size=8, max_refs=3):
    hyps = draw(st.lists(text, min_size=min_size, max_size=max_size))
    refs = [draw(references(max_refs)) for _ in hyps]
    return hyps, refs


def as_list(refs):
    return [refs] if isinstance(refs, str) else list(refs)


def sacrebleu_streams(refs):
    """Our per-item references -> sacreBLEU's reference streams (None pads a missing reference)."""
    lists = [as_list(r) for r in refs]
    width = max(len(r) for r in lists)
    return [[r[j] if j < len(r) else None for r in lists] for j in range(width)]
