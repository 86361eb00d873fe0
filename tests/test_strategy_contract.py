"""Every registered strategy (built-in or installed) passes the shared contract."""

from __future__ import annotations

from assistant.plugins import make_plugin_host
from assistant.testing import StrategyContract

for _name in sorted(make_plugin_host().registry.of("strategy")):
    globals()[f"TestContract_{_name}"] = StrategyContract.for_strategy(_name)
