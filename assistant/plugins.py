"""Loading plugins and calling their hooks.

Three ways in, in this order:

1. built-ins (``assistant_plugins.*``, shipped with the project);
2. installed packages that declare an entry point in the group ``assistant``::

       [project.entry-points.assistant]
       my_strategy = "my_package.plugin"

3. loose ``.py`` files in a folder (``--plugins-dir`` or the ``plugins_dir``
   setting), for one-off plugins.

``ASSISTANT_PLUGINS`` is an allow-list of entry-point and folder plugin
names (comma-separated; empty means none); built-ins always load.
``ASSISTANT_TRACE_HOOKS=1`` prints every hook call to stderr.

A plugin that fails to import, or fails while registering, is reported and
skipped; the others load. A pipeline hook that raises during a turn loses
only its own contribution and the answer carries a notice naming the plugin
(``plugin_errors = "isolate"``, the default); with ``plugin_errors = "fail"``
the turn fails with a :class:`PluginError` naming it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownNameError

BUILTIN_PLUGINS = (
    "assistant.backends",  # the core's own backends, registered like a plugin's
    "assistant_plugins.zero_shot",
    "assistant_plugins.chain_of_thought",
    "assistant_plugins.self_consistency",
    "assistant_plugins.least_to_most",
    "assistant_plugins.best_of_n",
    "assistant_plugins.chain_of_verification",
    "assistant_plugins.chain_of_density",
    "assistant_plugins.tree_of_thought",
    "assistant_plugins.semantic_examples",
    "assistant_plugins.faiss_retrieval",
    "assistant_plugins.feedback",
    "assistant_plugins.peft_adapters",
)
ENTRY_POINT_GROUP = "assistant"
ALLOW_ENV = "ASSISTANT_PLUGINS"
_BLAME_HINT = "disable it with ASSISTANT_PLUGINS or report the bug to its author"
TRACE_ENV = "ASSISTANT_TRACE_HOOKS"

# registration hook -> the kind name used in the registry
REGISTRATION_HOOKS = {
    "register_strategies": "strategy",
    "register_retrievers": "retriever",
    "register_backends": "backend",
    "register_example_selectors": "example_selector",
    "register_loaders": "loader",
    "register_adapter_kinds": "adapter_kind",
    "register_benchmarks": "benchmark",
}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded (or failed) plugin, for ``assistant plugins``."""

    name: str
    source: str  # "built-in", "entry point", "plugins-dir"
    origin: str  # module name or file path
    version: str = ""
    error: str = ""


@dataclass(frozen=True)
class HookCall:
    """One pipeline-hook call, kept in ``PluginHost.call_log``."""

    hook: str
    plugin: str
    ms: float
    outcome: str


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    obj: Any
    plugin: str

    @property
    def doc(self) -> str:
        return (getattr(self.obj, "__doc__", None) or "").strip()


@dataclass
class Registry:
    """What plugins registered, by kind and name, with who registered it."""

    items: dict[str, dict[str, Registration]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, name: str, obj: Any, plugin: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{kind} name must be a non-empty string, got {name!r}")
        bucket = self.items.setdefault(kind, {})
        if name in bucket:
            first = bucket[name].plugin
            self.problems.append(
                f"{kind} {name!r} registered by both {first!r} and {plugin!r}; keeping {first!r}'s"
            )
            return
        bucket[name] = Registration(kind, name, obj, plugin)

    def of(self, kind: str) -> dict[str, Registration]:
        return dict(self.items.get(kind, {}))

    def get(self, kind: str, name: str) -> Registration:
        bucket = self.items.get(kind, {})
        if name not in bucket:
            available = ", ".join(sorted(bucket)) or "none"
            raise UnknownNameError(
                f"unknown {kind.replace('_', ' ')} {name!r}", f"available: {available}"
            )
        return bucket[name]


class PluginHost:
    """The plugin manager, what plugins registered, and how hooks are called."""

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo], trace: bool = False) -> None:
        self.pm = pm
        self.infos = infos
        self.registry = Registry()
        self.trace = trace
        self.timeout_s: float = 0.0  # per pipeline-hook call; 0 means no budget
        self.call_log: deque[HookCall] = deque(maxlen=1000)  # recent pipeline-hook calls

    # -- calling hooks ---------------------------------------------------------

    def implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        """Implementations in pluggy's call order (LIFO, tryfirst/trylast applied)."""
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def call(self, hook_name: str, *, validate: Callable[[Any], str | None] | None = None,
             on_error: Callable[[PluginError], None] | None = None, chain: str | None = None,
             **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook, one at a time; return (plugin, result) pairs.

        * Each implementation receives only the arguments it declares, so
          plugins written against an older, shorter signature keep working.
        * ``validate(result)`` returns what was expected (str) for a wrong result;
          ``None`` results are never validated.
        * ``chain="prompt"`` passes each non-None result on as that argument
          to the next implementation.
        * An exception, a complaint or a call slower than ``timeout_s``
          becomes a :class:`PluginError` naming the plugin. With ``on_error``
          it is handed over and that plugin's contribution is skipped
          (isolation); without, it is raised (the turn fails).
        """
        results: list[tuple[str, Any]] = []
        for impl in self.implementations(hook_name):
            args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            start = time.perf_counter()
            try:
                result = self._invoke(impl, args)
                complaint = validate(result) if validate is not None and result is not None else None
                if complaint:
                    raise PluginError(f"plugin {impl.plugin_name!r} returned {type(result).__name__} from "
                                      f"{hook_name}, {complaint}",
                                      plugin=impl.plugin_name, hint=_BLAME_HINT)
            except Exception as exc:
                error = exc if isinstance(exc, PluginError) else PluginError(
                    f"plugin {impl.plugin_name!r} failed in hook {hook_name}: {type(exc).__name__}: {exc}",
                    plugin=impl.plugin_name, hint=_BLAME_HINT)
                self._log(impl.plugin_name, hook_name, args, start, f"error: {error.message}")
                if on_error is None:
                    raise error from exc
                on_error(error)
                continue
            self._log(impl.plugin_name, hook_name, args, start, _summary(result))
            results.append((impl.plugin_name, result))
            if chain is not None and result is not None:
                kwargs[chain] = result
        return results

    def results(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Every non-None result of a hook, with the plugin that gave it."""
        return [(p, r) for p, r in self.call(hook_name, **kwargs) if r is not None]

    def _invoke(self, impl: pluggy.HookImpl, args: dict[str, Any]) -> Any:
        if not self.timeout_s:
            return impl.function(**args)
        # A Python thread cannot be killed: a plugin past its budget is
        # abandoned (it finishes in the background) and its result ignored.
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = impl.function(**args)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=run, name=f"plugin-{impl.plugin_name}", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise PluginError(f"plugin {impl.plugin_name!r} exceeded its time budget of {self.timeout_s:g} s",
                              plugin=impl.plugin_name, hint="raise plugin_timeout_s or report it to its author")
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    def _log(self, plugin: str, hook: str, args: dict, start: float, outcome: str) -> None:
        ms = (time.perf_counter() - start) * 1000
        self.call_log.append(HookCall(hook, plugin, ms, outcome))
        if self.trace:
            arg_text = ", ".join(f"{k}={_summary(v)}" for k, v in args.items())
            print(f"[hook] {hook} <- {plugin}({arg_text}) {ms:.1f} ms -> {outcome}", file=sys.stderr)

    # -- registration ------------------------------------------------------------

    def run_registrations(self) -> None:
        # Load order (built-ins, entry points, plugins-dir), so on a name
        # collision the earlier source keeps the name.
        for hook_name, kind in REGISTRATION_HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin = impl.plugin_name

                def register(name: str, obj: Any, _kind: str = kind, _plugin: str = plugin) -> None:
                    self.registry.add(_kind, name, obj, _plugin)

                try:
                    impl.function(**({"register": register} if "register" in impl.argnames else {}))
                except Exception as exc:  # a broken plugin must not take the others down
                    self.registry.problems.append(
                        f"plugin {plugin!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                    )

    def register_commands(self, cli: Any) -> None:
        for impl in self.implementations("register_commands"):
            try:
                impl.function(cli=cli)
            except Exception as exc:
                self.registry.problems.append(f"plugin {impl.plugin_name!r} failed in register_commands: {exc}")

    def registered_by(self, plugin: str) -> list[Registration]:
        return [r for bucket in self.registry.items.values() for r in bucket.values() if r.plugin == plugin]


def _summary(value: Any, width: int = 60) -> str:
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[{len(value)}]"
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _allow_list() -> set[str] | None:
    raw = os.environ.get(ALLOW_ENV)
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def make_plugin_host(plugins_dir: str | Path | None = None, builtins: bool = True,
                     extra: Sequence[tuple[str, Any]] = ()) -> PluginHost:
    """Build a fresh plugin manager with every plugin loaded and registered.

    A factory, not a module global: each caller (and each test) gets its own.
    ``extra`` adds plugin objects directly, as ``(name, module_or_object)``,
    after the other sources (tests and embedding applications use it).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    allowed = _allow_list()

    def add(name: str, load: Callable[[], Any], source: str, origin: str, version: str = "") -> None:
        try:
            module = load()
            _check_contract(module, name)
            _refuse_wrappers(module, name)
            pm.register(module, name=name)
        except Exception as exc:
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            infos.append(PluginInfo(name, source, origin, version, error=detail))
            return
        infos.append(PluginInfo(name, source, origin, version))

    if builtins:
        from . import __version__

        for module_name in BUILTIN_PLUGINS:
            short = module_name.rsplit(".", 1)[-1]
            add(short, lambda m=module_name: importlib.import_module(m), "built-in", module_name, __version__)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        version = ep.dist.version if ep.dist is not None else ""
        add(ep.name, ep.load, "entry point", ep.value, version)

    if plugins_dir:
        folder = Path(plugins_dir)
        if not folder.is_dir():
            infos.append(PluginInfo(str(folder), "plugins-dir", str(folder), error="folder does not exist"))
        else:
            for path in sorted(folder.glob("*.py")):
                if allowed is not None and path.stem not in allowed:
                    continue
                add(path.stem, lambda p=path: _load_file(p), "plugins-dir", str(path))

    for name, plugin in extra:
        add(name, lambda p=plugin: p, "extra", type(plugin).__name__)

    # A misspelled hook implementation must fail loudly: report and unload it.
    while True:
        try:
            pm.check_pending()
            break
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or "?"
            pm.unregister(exc.plugin)
            infos = [i if i.name != name else PluginInfo(i.name, i.source, i.origin, i.version, error=str(exc))
                     for i in infos]

    host = PluginHost(pm, infos, trace=bool(os.environ.get(TRACE_ENV)))
    host.run_registrations()
    return host


CONTRACT_ATTRIBUTE = "ASSISTANT_HOOK_CONTRACT"


def _check_contract(module: Any, name: str) -> None:
    """Refuse a plugin that declares a hook-contract range this version is not in.

    A plugin declares it as a module (or object) attribute, e.g.
    ``ASSISTANT_HOOK_CONTRACT = ">=1,<2"`` (PEP 440 specifiers). No
    declaration means "any version".
    """
    declared = getattr(module, CONTRACT_ATTRIBUTE, None)
    if declared is None:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(str(declared))
    except InvalidSpecifier:
        raise PluginError(f"plugin {name!r} declares an invalid {CONTRACT_ATTRIBUTE} {declared!r}",
                          plugin=name, hint="use PEP 440 specifiers such as '>=1,<2'") from None
    if str(hookspecs.HOOK_CONTRACT_VERSION) not in spec:
        raise PluginError(
            f"plugin {name!r} supports hook contract {declared} but this assistant provides "
            f"version {hookspecs.HOOK_CONTRACT_VERSION}",
            plugin=name, hint="install a version of the plugin made for this assistant")


def _refuse_wrappers(module: Any, name: str) -> None:
    for attr in dir(module):
        opts = getattr(getattr(module, attr, None), f"{hookspecs.PROJECT}_impl", None)
        if isinstance(opts, dict) and (opts.get("hookwrapper") or opts.get("wrapper")):
            raise PluginError(f"plugin {name!r}: hook wrappers are not supported ({attr})", plugin=name)


def _load_file(path: Path) -> Any:
    module_name = f"assistant_local_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
