"""Test kit for plugin authors.

* :class:`ScriptedLLM`: a fake model for testing a strategy's control flow.
* :class:`StrategyContract`: the contract every strategy must pass. In your
  plugin's tests, one line runs it against your strategy::

      TestMyStrategy = StrategyContract.for_strategy("my_strategy")

* :class:`RetrieverContract`: the contract every retriever must pass::

      TestMyRetriever = RetrieverContract.for_retriever("my_retriever")

* :class:`BackendContract`: the contract every model backend must pass::

      TestMyBackend = BackendContract.for_backend("my_backend", settings={"model": "..."})

* :func:`write_tiny_corpus`: a few small documents for retrieval tests.
* pytest fixtures (loaded automatically through the ``pytest11`` entry
  point): ``scripted_llm``, ``tiny_corpus``, ``embedded_llm`` (the real
  embedded default model, loaded once per session).
"""

from __future__ import annotations

from .contract import StrategyContract
from .backend_contract import BackendContract
from .corpus import TINY_CORPUS, write_tiny_corpus
from .retriever_contract import RetrieverContract
from .scripted import Call, ScriptedLLM

__all__ = ["BackendContract", "Call", "RetrieverContract", "ScriptedLLM", "StrategyContract", "TINY_CORPUS", "write_tiny_corpus"]
