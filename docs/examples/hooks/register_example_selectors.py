"""An example selector over a small built-in bank, ranked by shared words."""

from assistant import Example, hookimpl

BANK = [
    Example(id="units-1", input="How many metres are in 3 km?", output="3000", rationale="1 km = 1000 m."),
    Example(id="units-2", input="How many minutes are in 2 hours?", output="120", rationale="1 h = 60 min."),
]


class SharedWords:
    """Pick the examples that share the most words with the question."""

    def __init__(self, settings):
        self.bank = BANK

    def select(self, query, k):
        words = set(query.lower().split())
        ranked = sorted(self.bank, key=lambda ex: -len(words & set(ex.input.lower().split())))
        return ranked[:k]


@hookimpl
def register_example_selectors(register):
    register("shared_words", SharedWords)
