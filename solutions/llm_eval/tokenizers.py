"""Tokenizers of the text metrics: BLEU's 13a / intl / none, and ROUGE's ASCII tokenizer.

These are scaffolding, not the exercise: they reproduce sacreBLEU 2.x and rouge-score 0.1.2
character for character so the metrics built on top can be compared with those libraries
to 1e-9. Each is a pure function of one string, cached because evaluation sets repeat
references across systems.
"""
from __future__ import annotations

import re
from functools import lru_cache

import regex  # \p{P}, \p{S}, \p{N} classes for the intl tokenizer (a sacreBLEU dependency)

# mteval-v13a: the regexes sacreBLEU applies after padding the line with spaces.
# Replacement functions instead of r" \1 " templates: same output, no template expansion per match.
_13A_RULES = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), lambda m: f" {m[1]} "),  # punctuation, symbols
    (re.compile(r"([^0-9])([\.,])"), lambda m: f"{m[1]} {m[2]} "),  # period/comma unless after a digit
    (re.compile(r"([\.,])([^0-9])"), lambda m: f" {m[1]} {m[2]}"),  # period/comma unless before a digit
    (re.compile(r"([0-9])(-)"), lambda m: f"{m[1]} {m[2]} "),  # dash after a digit
]

# mteval-v14 "international": split Unicode punctuation and symbols.
_INTL_RULES = [
    (regex.compile(r"(\P{N})(\p{P})"), r"\1 \2 "),
    (regex.compile(r"(\p{P})(\P{N})"), r" \1 \2"),
    (regex.compile(r"(\p{S})"), r" \1 "),
]


@lru_cache(maxsize=2**16)
def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenization (WMT's standard), returned as space-joined tokens."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (line.replace("&quot;", '"').replace("&amp;", "&")
                .replace("&lt;", "<").replace("&gt;", ">"))
    line = f" {line} "
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@lru_cache(maxsize=2**16)
def tokenize_intl(line: str) -> str:
    """mteval-v14 international tokenization: Unicode punctuation and symbols become tokens."""
    for pattern, repl in _INTL_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def tokenize_none(line: str) -> str:
    """No tokenization: split on whitespace only (not recommended for reported scores)."""
    return line


BLEU_TOKENIZERS = {"13a": tokenize_13a, "intl": tokenize_intl, "none": tokenize_none}

# rouge-score: lowercase, anything outside [a-z0-9] becomes a separator.
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")


@lru_cache(maxsize=1)
def _porter():
    # rouge-score stems with NLTK's Porter stemmer (default NLTK_EXTENSIONS mode); using the
    # same one is what makes stemmed scores comparable with every published ROUGE number.
    from nltk.stem import porter

    return porter.PorterStemmer()


@lru_cache(maxsize=2**16)
def _stem(token: str) -> str:
    return _porter().stem(token)


@lru_cache(maxsize=2**16)
def tokenize_rouge(text: str, use_stemmer: bool = False) -> tuple[str, ...]:
    """rouge-score's tokenizer: lowercase, non-[a-z0-9] to space, stem tokens longer than 3 chars."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    if use_stemmer:
        tokens = [_stem(t) if len(t) > 3 else t for t in tokens]
        tokens = [t for t in tokens if _VALID_TOKEN.match(t)]
    return tuple(tokens)


def dropped_by_rouge_tokenizer(text: str) -> str:
    """The characters the ASCII ROUGE tokenizer throws away (letters/digits outside a-z0-9)."""
    return "".join(sorted({c for c in text.lower() if c.isalnum() and not ("a" <= c <= "z" or "0" <= c <= "9")}))
