"""A small evaluation set for exercise 1, generated from hand-written templates with a seed.

`eval_set()` gives text items (prompt, reference, and the outputs of four systems with
characteristic behaviour) and `classification_set()` sentiment items with gold labels and
the outputs of three classifiers. The systems are built so the metrics disagree in
instructive ways:

- faithful: a paraphrase with the same facts in other words (low BLEU, high similarity)
- verbatim: copies the first sentence of the source document (n-gram overlap, misses the point)
- truncated: the reference cut after about half its words (high precision, brevity penalty)
- hallucinated: the reference with a name or number swapped (high BLEU, wrong facts)
"""
from __future__ import annotations

import random

SYSTEMS = ("faithful", "verbatim", "truncated", "hallucinated")
LABELS = ("positive", "negative", "neutral")

CITIES = ["Lisbon", "Oslo", "Nairobi", "Osaka", "Quito", "Tallinn", "Perth", "Accra", "Leipzig", "Porto"]
PEOPLE = ["Maria Silva", "Kenji Ito", "Amara Okafor", "Lars Berg", "Sofia Rossi", "Diego Ruiz",
          "Hana Novak", "Omar Haddad", "Ingrid Holm", "Priya Nair"]
THINGS = [("library", "public library"), ("bridge", "pedestrian bridge"), ("hospital", "children's hospital"),
          ("tram line", "light rail line"), ("museum", "science museum"), ("park", "city park")]
COMPANIES = ["Northwind", "Bluepeak", "Solvent Labs", "Greyhound Data", "Arcadia Foods", "Helix Motors"]
PRODUCTS = [("battery", "battery cell"), ("phone", "smartphone"), ("robot", "warehouse robot"),
            ("vaccine", "flu vaccine"), ("satellite", "weather satellite")]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# (document, reference summary, faithful paraphrase); {slots} filled per item.
TEMPLATES = [
    ("The city of {city} opened a new {thing} on {day}. Officials said the project cost {n} million "
     "euros and took {k} years to finish. Residents had waited a long time for it.",
     "{city} opened a new {thing} on {day} after {k} years of work at a cost of {n} million euros.",
     "After {k} years of construction, a {thing2} costing {n} million euros was inaugurated in {city} on {day}."),
    ("{company} announced on {day} that it will cut {n} jobs. The company blamed falling demand and said "
     "the cuts would be finished within {k} months.",
     "{company} will cut {n} jobs within {k} months because demand is falling.",
     "Citing weaker demand, {company} plans to eliminate {n} positions over the next {k} months."),
    ("Researchers led by {person} reported a new {product} that lasts {k} times longer than current "
     "designs. The team tested {n} prototypes over two years.",
     "A team led by {person} built a {product} that lasts {k} times longer, after testing {n} prototypes.",
     "{person}'s group developed a {product2} with {k}-fold longer life, based on trials of {n} prototypes."),
    ("{person} won the {city} marathon on {day} in a record time. It was the runner's {k}th win, and "
     "{n} thousand people watched along the route.",
     "{person} won the {city} marathon on {day}, a {k}th victory watched by {n} thousand people.",
     "On {day}, {n} thousand spectators saw {person} take the {city} marathon title for the {k}th time."),
    ("Heavy rain flooded parts of {city} on {day}. Emergency services rescued {n} people and schools "
     "stayed closed for {k} days.",
     "Floods hit {city} on {day}; {n} people were rescued and schools closed for {k} days.",
     "Rescuers saved {n} residents when {city} flooded on {day}, and classes were cancelled for {k} days."),
    ("{company} released a {product} on {day} priced at {n} dollars. Early reviews praised its design but "
     "said the software needs {k} more updates.",
     "{company} launched a {n} dollar {product} on {day} with praised design but unfinished software.",
     "Reviewers liked the look of the {product2} {company} put on sale on {day} for {n} dollars, less so its software."),
]

REVIEWS = {
    "positive": ["The {thing} was wonderful and the staff were friendly.",
                 "I loved the new {thing}; it exceeded every expectation.",
                 "Great value, fast service, and a beautiful {thing}.",
                 "Absolutely fantastic {thing}, I would go back tomorrow."],
    "negative": ["The {thing} was dirty and nobody helped us.",
                 "Terrible experience, the {thing} was closed without notice.",
                 "Overpriced and slow; the {thing} was a disappointment.",
                 "I regret going to the {thing}, it was awful."],
    "neutral": ["The {thing} opens at nine and closes at six.",
                "We visited the {thing} on a weekday afternoon.",
                "The {thing} is located next to the station.",
                "Tickets for the {thing} can be bought online or at the door."],
}


def _fill(template: str, slots: dict) -> str:
    return template.format(**slots)


def eval_set(n: int = 120, seed: int = 0) -> list[dict]:
    """Text items: {id, prompt, reference, outputs: {system: text}}; deterministic for a seed."""
    rnd = random.Random(seed)
    items = []
    for i in range(n):
        doc, ref, para = TEMPLATES[i % len(TEMPLATES)]
        thing, thing2 = rnd.choice(THINGS)
        product, product2 = rnd.choice(PRODUCTS)
        slots = dict(city=rnd.choice(CITIES), person=rnd.choice(PEOPLE), company=rnd.choice(COMPANIES),
                     day=rnd.choice(DAYS), n=rnd.randint(2, 95), k=rnd.randint(2, 9),
                     thing=thing, thing2=thing2, product=product, product2=product2)
        document, reference = _fill(doc, slots), _fill(ref, slots)
        wrong = dict(slots, city=rnd.choice([c for c in CITIES if c != slots["city"]]),
                     person=rnd.choice([p for p in PEOPLE if p != slots["person"]]),
                     company=rnd.choice([c for c in COMPANIES if c != slots["company"]]),
                     n=slots["n"] + rnd.randint(10, 90))
        words = reference.split()
        items.append({
            "id": f"sum-{i:03d}",
            "prompt": f"Summarize in one sentence: {document}",
            "reference": reference,
            "outputs": {
                "faithful": _fill(para, slots),
                "verbatim": document.split(". ")[0] + ".",
                "truncated": " ".join(words[: max(3, len(words) // 2)]),
                "hallucinated": _fill(ref, wrong),
            },
        })
    return items


def classification_set(n: int = 60, seed: int = 0) -> list[dict]:
    """Sentiment items: {id, prompt, reference (gold label), outputs: {system: label text}}.

    careful: right 90% of the time; sloppy: right 70%, answers in free text ("Positive!",
    "I think it is neutral") 10% of the time; biased: answers "positive" unless clearly negative.
    """
    rnd = random.Random(seed + 1)
    items = []
    for i in range(n):
        gold = LABELS[i % 3]
        text = rnd.choice(REVIEWS[gold]).format(thing=rnd.choice(THINGS)[0])
        others = [x for x in LABELS if x != gold]
        careful = gold if rnd.random() < 0.9 else rnd.choice(others)
        draw = rnd.random()
        sloppy = (f"I think it is {gold}" if draw < 0.1 else gold.capitalize() + "!" if draw < 0.15 else
                  gold if draw < 0.8 else rnd.choice(others))
        biased = "negative" if gold == "negative" and rnd.random() < 0.7 else "positive"
        items.append({"id": f"cls-{i:03d}", "prompt": f"Sentiment (positive, negative or neutral): {text}",
                      "reference": gold, "outputs": {"careful": careful, "sloppy": sloppy, "biased": biased}})
    return items


def heldout_text(n_chars: int = 4000) -> tuple[str, str]:
    """(train, held-out) English text from `pydoc_data.topics`, a corpus that ships with Python."""
    from pydoc_data.topics import topics

    text = "\n".join(topics[k] for k in sorted(topics))
    split = len(text) - n_chars
    return text[:split], text[split:]



def cloze_questions(n: int = 40, seed: int = 0, n_choices: int = 4) -> list[tuple[str, tuple[str, ...], int]]:
    """Multiple-choice cloze questions from the held-out text (exercise 1, part 1.11) as (context, choices,
    gold index): the context is up to 40 characters before a word of 3 or more letters (from the start of
    its line), the gold choice that word, the others distinct words drawn from elsewhere in the held-out
    text. The tiny GPT never trained on this text."""
    import random
    import re

    _, held = heldout_text()
    rnd = random.Random(seed)
    spots = [m for m in re.finditer(r"(?<=[a-z,] )([a-z]{3,12})\b", held)]
    vocabulary = sorted({m[1] for m in spots})
    out = []
    for m in rnd.sample(spots, min(n, len(spots))):
        line_start = held.rfind("\n", 0, m.start()) + 1
        context = held[max(line_start, m.start() - 41):m.start() - 1]
        gold = m[1]
        others = rnd.sample([w for w in vocabulary if w != gold], n_choices - 1)
        choices = others + [gold]
        rnd.shuffle(choices)
        out.append((context, tuple(choices), choices.index(gold)))
    return out


def judge_pairs(n: int = 120, seed: int = 0, tie_every: int = 10) -> list[tuple[str, str, str, str]]:
    """Labelled pairs for a pairwise judge (exercise 1, part 1.9) as (prompt, answer_x, answer_y, label):
    the prompt is up to 36 characters of a held-out line before a word, one answer the 24 characters that
    follow in the text, the other the same characters with their space-separated words shuffled (same
    bytes, worse English); the label names the system whose answer is the text's own ("x" or "y", at
    random). Every `tie_every`-th pair shows the text's own answer twice, labelled "tie"."""
    import random
    import re

    _, held = heldout_text()
    rnd = random.Random(seed)
    starts = []
    for m in re.finditer(r"(?<= )[A-Za-z]{3,}", held):
        line_start = held.rfind("\n", 0, m.start()) + 1
        own = held[m.start():m.start() + 24]
        if len(own) == 24 and len(set(own.split(" "))) > 1 and re.search("[a-z]{3}", held[line_start:m.start()]):
            starts.append((held[max(line_start, m.start() - 36):m.start()], own))
    out = []
    for i, (prompt, own) in enumerate(rnd.sample(starts, min(n, len(starts)))):
        if i % tie_every == tie_every - 1:
            out.append((prompt, own, own, "tie"))
            continue
        words, shuffled = own.split(" "), own
        while shuffled == own:
            rnd.shuffle(words)
            shuffled = " ".join(words)
        out.append((prompt, own, shuffled, "x") if rnd.random() < 0.5 else (prompt, shuffled, own, "y"))
    return out
