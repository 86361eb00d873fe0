"""The strategy plugin shown in README.md works as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant import Settings
from assistant.engine import Engine
from assistant.plugins import make_plugin_host
from assistant.testing import ScriptedLLM, StrategyContract

from .conftest import REPO


def extract_readme_plugin(folder: Path) -> Path:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Write a strategy plugin", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (folder / "my_strategies.py").write_text(code)
    return folder


@pytest.fixture
def readme_plugin_dir(tmp_path):
    return extract_readme_plugin(tmp_path)


class TestReadmeStrategyContract(StrategyContract):
    """The README says one line runs the shared contract on this strategy: it must pass.

    The README's line finds the strategy installed; here its code is written
    into each test's own temporary folder (removed by pytest) and loaded from there."""

    __test__ = True
    strategy = "draft_polish"

    @pytest.fixture(autouse=True)
    def _readme_plugin(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        request.instance.plugins_dir = str(extract_readme_plugin(tmp_path))


def test_readme_strategy_control_flow(readme_plugin_dir):
    llm = ScriptedLLM(["a rough draft", "A polished answer."])
    host = make_plugin_host(readme_plugin_dir)
    engine = Engine(Settings(strategy="draft_polish"), host=host, llm=llm)
    answer = engine.answer("What is FAISS?", options={"style": "friendly"}, use_retrieval=False)
    assert answer.text == "A polished answer."
    assert [c.label for c in llm.calls] == ["draft", "polish"]
    assert "Rewrite this answer to be friendly:\na rough draft" in llm.calls[1].prompts[0]
    assert [s.name for s in answer.steps if s.kind == "generate"] == ["draft", "polish"]


@pytest.mark.real_model
def test_readme_strategy_on_the_real_model(readme_plugin_dir, real_llm):
    from assistant import Decoding

    engine = Engine(Settings(strategy="draft_polish"), host=make_plugin_host(readme_plugin_dir), llm=real_llm)
    answer = engine.answer("What is the capital of France?", use_retrieval=False,
                           decoding=Decoding(max_new_tokens=24))
    assert answer.text and answer.usage.model_calls == 2
