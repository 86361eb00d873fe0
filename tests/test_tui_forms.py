"""The chat's forms (strategy options, decoding), the strategy arena and the
strategy-shaped trace views, driven by Pilot on a real index and feedback
store with the scripted model."""

from __future__ import annotations

import pytest
from textual.widgets import SelectionList

from assistant.testing import ScriptedLLM
from assistant.tui.forms import FormScreen
from assistant.tui.screens import MultiPickerScreen, PickerScreen, RankScreen
from assistant.tui.widgets import TracePanel
from assistant_plugins.feedback import open_store

from .test_strategies import _tot_reply
from .test_tui import SIZE, answers, ask, indexed, make_app, rank_screen_ready, ready, until  # noqa: F401

pytestmark = [pytest.mark.asyncio, pytest.mark.real_model]  # `indexed` embeds the corpus with the real embedder


def labels(node) -> list[str]:
    """Every label under ``node``, depth first."""
    out = []
    for child in node.children:
        out.append(str(child.label))
        out.extend(labels(child))
    return out


def highlighted_command(palette) -> str:
    """The title of the command the palette runs on Enter; "" while none is shown highlighted."""
    from textual.command import CommandList

    commands = palette.query_one(CommandList)
    if not commands.has_class("--visible") or commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt).split("\n", 1)[0]


async def type_into_focused(pilot, text: str) -> None:
    await pilot.press("ctrl+a", "ctrl+k")  # clear the field (Input's own keys)
    for key in text:
        await pilot.press(key if key != " " else "space")


async def test_strategy_options_form_checks_values_and_applies_them_to_the_next_turn(indexed):
    def reply(prompt: str, i: int) -> str:
        return f"Two and two. The answer is: {4 if i < 2 else 5}"

    llm = ScriptedLLM(reply)
    app = make_app(llm)
    async with app.run_test(size=SIZE) as pilot:
        names = [name for name, _ in app.strategy_choices()]
        await pilot.press("ctrl+o")
        await until(pilot, lambda: ready(app, PickerScreen))
        steps = names.index("self_consistency") - names.index("zero_shot")
        for _ in range(abs(steps)):
            await pilot.press("down" if steps > 0 else "up")
        await pilot.press("enter")
        await until(pilot, lambda: ready(app, FormScreen))
        assert app.session.strategy == "self_consistency"
        assert [f.name for f in app.screen.fields][:2] == ["samples", "temperature"]
        await type_into_focused(pilot, "many")  # the first field is samples
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "must be int" in str(app.screen.query_one("#error").render()))
        assert isinstance(app.screen, FormScreen)  # a bad value keeps the form open, nothing is lost
        await type_into_focused(pilot, "3")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, FormScreen))
        assert app.session.options == {"samples": "3"}  # only what differs from the defaults
        assert "self_consistency (samples=3)" in app.sub_title
        await ask(pilot, "What is 2 + 2?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        assert [c.n for c in llm.calls if c.label == "paths"] == [3]
        # the trace shows the vote: counts as bars, agreement, the winner
        trace = app.query_one(TracePanel)
        vote = [n for n in trace.root.children if str(n.label).startswith("vote")][0]
        assert "agreement 67%" in str(vote.label)
        shown = labels(vote)
        assert any("2/3" in line and "← winner" in line and "4" in line for line in shown)
        assert any("1/3" in line and "5" in line for line in shown)
        # F6 reopens the form with the current values
        await pilot.press("f6")
        await until(pilot, lambda: ready(app, FormScreen))
        assert app.screen.values()["samples"] == "3"
        await pilot.press("escape")


async def test_decoding_form_sets_sampling_and_word_constraints(indexed):
    llm = ScriptedLLM("Owls hunt at night.")
    app = make_app(llm)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: ready(app, FormScreen))
        await type_into_focused(pilot, "-1")  # temperature
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "temperature" in str(app.screen.query_one("#error").render()))
        await type_into_focused(pilot, "0.8")
        for _ in range(6):  # temperature -> top_p -> ... -> exclude
            await pilot.press("enter")
        await type_into_focused(pilot, "daytime, sun")
        await pilot.press("enter")  # -> require
        await type_into_focused(pilot, "owls")
        await pilot.press("enter")  # Enter on the last field saves
        await until(pilot, lambda: not isinstance(app.screen, FormScreen))
        assert "T=0.8" in app.sub_title
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        used = app.session.last_answer.decoding
        assert used.temperature == 0.8 and used.exclude == ("daytime", "sun") and used.require == ("owls",)
        assert llm.calls[-1].decoding.exclude == ("daytime", "sun")


async def test_arena_answers_with_several_strategies_and_the_ranking_lands_in_the_store(indexed):
    def reply(prompt: str, i: int) -> str:
        return "Step by step: owls hunt at night." if "step by step" in prompt.lower() else "At night."

    app = make_app(ScriptedLLM(reply))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f7")  # nothing asked yet: a warning, not a crash
        await until(pilot, lambda: any("ask a question first" in n.message for n in app._notifications))
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("f7")
        await until(pilot, lambda: ready(app, MultiPickerScreen))
        await pilot.press("ctrl+s")  # the current strategy and chain_of_thought are preselected
        await until(pilot, lambda: rank_screen_ready(app))
        assert [label for label, _ in app.screen.items] == ["chain_of_thought", "zero_shot"]  # listed order
        shown = [v.text for v in answers(app)]
        assert shown[-2:] == ["Step by step: owls hunt at night.", "At night."]
        for key in "2 1":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        await until(pilot, lambda: any("ranking saved: zero_shot > chain_of_thought" in n.message
                                       for n in app._notifications))
        arena = app.session.arena_turns
        winner = app.session.conversation.turns[-1].answer
        assert winner.strategy == "zero_shot" and len(app.session.conversation.turns) == 1  # promoted
    store = open_store(app.session.engine.settings)
    try:
        ranking = [e for e in store.events() if e.kind == "ranking"][-1]
        assert ranking.ranking == ((arena[1].answer.id,), (arena[0].answer.id,))
        siblings = {a.id: a.strategy for a in store.siblings(arena[0].answer.id)}
        assert siblings == {arena[0].answer.id: "chain_of_thought", arena[1].answer.id: "zero_shot"}
    finally:
        store.close()


async def test_arena_needs_two_strategies(indexed):
    app = make_app(ScriptedLLM("At night."))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "When do owls hunt?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        await pilot.press("f7")
        await until(pilot, lambda: ready(app, MultiPickerScreen))
        picker = app.screen.query_one(SelectionList)
        assert picker.get_option_at_index(picker.highlighted).value == "zero_shot"  # the current one
        await pilot.press("enter")  # toggles it off: one strategy left
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("at least two" in n.message for n in app._notifications))
        assert len(app.session.conversation.turns) == 1  # the last turn is untouched


async def test_trace_shows_the_tree_of_thoughts_with_values_and_pruning(indexed):
    app = make_app(ScriptedLLM(_tot_reply), strategy="tree_of_thought")
    app.session.options = {"depth": "2", "breadth": "2"}
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is 2 + 3?")
        await until(pilot, lambda: not app.busy and app.session.last_answer is not None)
        trace = app.query_one(TracePanel)
        tree = [n for n in trace.root.children if str(n.label).startswith("tree")][0]
        assert "pruned" in str(tree.label) and "thoughts" in str(tree.label)
        problem = tree.children[0]
        assert "(the problem)" in str(problem.label)
        first_level = [str(n.label) for n in problem.children]
        assert any("✗ pruned" in line and "guess wildly" in line for line in first_level)
        assert any("add 2 and 3" in line and "value 1.00" in line for line in first_level)
        assert any("★ solution" in line for line in labels(tree))


async def test_every_action_is_in_the_command_palette(indexed):
    from textual.command import CommandPalette

    app = make_app(ScriptedLLM("At night."))
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Arena", "Decoding", "Options", "Rank", "Strategy", "Adapter", "History"} <= set(titles)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        for key in "Decoding":
            await pilot.press(key)
        # the palette searches in a worker and shows its matches in batches: Enter
        # runs the highlighted match, so wait until the one typed is highlighted
        await until(pilot, lambda: highlighted_command(app.screen) == "Decoding")
        await pilot.press("enter")
        await until(pilot, lambda: ready(app, FormScreen))
        assert app.screen.title_text == "Decoding for the next turns"
