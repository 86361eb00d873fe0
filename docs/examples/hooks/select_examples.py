"""Always offer one formatting example, whatever the question."""

from assistant import Example, hookimpl


@hookimpl
def select_examples(query, k, settings):
    if k <= 0:
        return None
    return [Example(id="format-1", input="What is 2 + 2?", output="4")]
