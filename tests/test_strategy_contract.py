"""Every registered strategy (built-in or installed) passes the shared contract."""

from __future__ import annotations

from assistant.plugins import make_plugin_host
from assistant.testing import StrategyContract

# Small settings for the searching strategies keep the real-model contract run
# short on two CPU cores; their full defaults are tested with the scripted model.
CHEAP = {
    "tree_of_thought": {"depth": 1, "branching": 2, "breadth": 1},
    "self_consistency": {"samples": 3},
    "best_of_n": {"samples": 2},
    "chain_of_verification": {"max_questions": 1},
    "chain_of_density": {"rounds": 1},
    "least_to_most": {"max_subquestions": 1},
}

for _name in sorted(make_plugin_host().registry.of("strategy")):
    globals()[f"TestContract_{_name}"] = StrategyContract.for_strategy(_name, options=CHEAP.get(_name))
