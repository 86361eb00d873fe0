"""The public API is the boundary (issue #20).

The built-in plugins are templates a third party copies, so they may import
from the core only what any plugin may: ``import assistant`` and the names in
``assistant.__all__``, plus the few public modules below. The core never
imports a built-in plugin (it may name them as strings, to load them), and
no built-in imports another. Everything is read with ``ast``: nothing here
imports the code it checks.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "assistant"
PLUGINS = ROOT / "plugins"
PLUGIN_PACKAGE = "assistant_plugins"  # plugins/ is installed under this name

#: The modules besides ``assistant`` itself that any plugin may import, each with why it is public.
PUBLIC_MODULES = {
    "assistant.testing": "the plugin test kit: contract tables, ScriptedLLM, fixtures",
    "assistant.answers": "the final answer of a reasoning text, its normal form, and voting, shared by every strategy",
    "assistant.adapters": "adapters on disk (registry, metadata, fingerprints) for plugins that train or load them",
    "assistant.cli_api": "what register_commands needs: the shared tune/eval groups and KEY=VALUE option parsing",
    "assistant.evaluation.strategies": "the math word problem sets and their scoring, for plugins that evaluate on them",
    "assistant.evaluation.beir": "BEIR-format retrieval sets (SciFact): load_beir, for plugins that evaluate or benchmark on them",
    "assistant.bench": "what register_benchmarks needs: BenchContext, Row, Skip, ratio, median, timed",
}

#: Core modules that still import a built-in plugin: (file, imported module). Each is a debt with its issue.
KNOWN_CORE_EXCEPTIONS: set[tuple[str, str]] = set()

HEAVY = ("torch", "transformers", "faiss", "textual", "sentence_transformers", "numpy")


@dataclass(frozen=True)
class Imported:
    """One imported module (and, for ``from M import a, b``, the names taken from it)."""

    file: str  # relative to the repository root
    line: int
    module: str  # absolute
    names: tuple[str, ...]  # empty for `import M`
    source: str  # the statement as written

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.source}"


def module_name(path: Path) -> str:
    """The import name of a file under assistant/ or plugins/."""
    rel = path.relative_to(ROOT)
    top = PLUGIN_PACKAGE if rel.parts[0] == "plugins" else rel.parts[0]
    parts = [top, *rel.parts[1:-1]]
    if path.name != "__init__.py":
        parts.append(path.stem)
    return ".".join(parts)


def imports_in(path: Path, text: str | None = None) -> list[Imported]:
    """Every import statement in the file, wherever it is (functions included), made absolute."""
    text = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(text, filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    rel = str(path.relative_to(ROOT))
    found: list[Imported] = []
    lines = text.splitlines()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        source = " ".join(" ".join(lines[node.lineno - 1:node.end_lineno]).split())
        if isinstance(node, ast.Import):
            found.extend(Imported(rel, node.lineno, alias.name, (), source) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(Imported(rel, node.lineno, module, tuple(a.name for a in node.names), source))
    return sorted(found, key=lambda i: i.line)


def declared_all(module: str) -> set[str] | None:
    """The module's ``__all__`` as written in its source (None when it declares none)."""
    parts = module.split(".")
    folder = ROOT.joinpath(*parts)
    path = folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return None


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def targets(imp: Imported) -> list[str]:
    """What the statement reaches: the module, or each name under it (``from M import a`` -> ``M.a``)."""
    return [f"{imp.module}.{n}" for n in imp.names] if imp.names else [imp.module]


def plugin_of(module: str) -> str:
    """The built-in plugin a module of assistant_plugins belongs to ('' for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def core_violations(files: list[Path], texts: dict[Path, str] | None = None) -> list[str]:
    bad = []
    for path in files:
        for imp in imports_in(path, (texts or {}).get(path)):
            reached = [t for t in targets(imp) if t.split(".")[0] == PLUGIN_PACKAGE]
            if any((imp.file, t) not in KNOWN_CORE_EXCEPTIONS for t in reached):
                bad.append(str(imp))
    return bad


def plugin_violations(files: list[Path], texts: dict[Path, str] | None = None) -> list[str]:
    public_all = declared_all("assistant") or set()
    module_all = {m: declared_all(m) for m in PUBLIC_MODULES}
    bad = []
    for path in files:
        own = plugin_of(module_name(path))
        for imp in imports_in(path, (texts or {}).get(path)):
            top = imp.module.split(".")[0]
            if top == "assistant":
                if imp.module == "assistant":
                    if any(n not in public_all for n in imp.names):
                        missing = sorted(n for n in imp.names if n not in public_all)
                        bad.append(f"{imp}   (not in assistant.__all__: {', '.join(missing)})")
                elif imp.module not in PUBLIC_MODULES:
                    bad.append(f"{imp}   ({imp.module} is not public)")
                elif module_all[imp.module] is not None and any(n not in module_all[imp.module] for n in imp.names):
                    missing = sorted(n for n in imp.names if n not in module_all[imp.module])
                    bad.append(f"{imp}   (not in {imp.module}.__all__: {', '.join(missing)})")
            elif top == PLUGIN_PACKAGE:
                others = sorted({plugin_of(t) for t in targets(imp)} - {own})
                if others:
                    bad.append(f"{imp}   (another built-in plugin: {', '.join(o or PLUGIN_PACKAGE for o in others)})")
    return bad


def _report(what: str, bad: list[str]) -> str:
    return f"{len(bad)} {what}:\n  " + "\n  ".join(bad)


def test_the_core_imports_no_builtin_plugin():
    bad = core_violations(python_files(CORE))
    assert not bad, _report("core imports of a built-in plugin (load them by name in assistant/plugins.py)", bad)


def test_the_known_exceptions_still_exist():
    """An exception that no longer occurs is removed from the list, so it only shrinks."""
    present = {(imp.file, t) for path in python_files(CORE) for imp in imports_in(path) for t in targets(imp)}
    stale = sorted(KNOWN_CORE_EXCEPTIONS - present)
    assert not stale, f"fixed, remove from KNOWN_CORE_EXCEPTIONS: {stale}"


def test_builtin_plugins_import_only_the_public_api():
    bad = plugin_violations(python_files(PLUGINS))
    assert not bad, _report("imports of the core's internals or of another built-in plugin "
                            "(use `import assistant` or a module of PUBLIC_MODULES)", bad)


def test_the_checker_sees_every_form_of_import():
    """The rules above, on code that breaks them: inside functions, relative, aliased."""
    plugin_file = PLUGINS / "feedback" / "cli.py"
    breaking = (
        "from assistant.engine import Engine\n"
        "import assistant.models as m\n"
        "from assistant import make_plugin_host\n"
        "from assistant.answers import NUMBER\n"
        "def f():\n"
        "    from assistant_plugins.semantic_examples import add_example\n"
        "    from ..chain_of_thought import reasoning_prompt\n"
        "    from .. import zero_shot\n"
    )
    fine = ("import assistant\nfrom assistant import Example, hookimpl\nfrom assistant.testing import ScriptedLLM\n"
            "from assistant.answers import extract\nfrom .store import FeedbackStore\nfrom . import export\n"
            "import assistant_plugins.feedback.store\n")
    bad = plugin_violations([plugin_file], {plugin_file: breaking})
    assert [line.split(":")[1] for line in bad] == [str(n) for n in range(1, 9) if n != 5], "\n".join(bad)
    assert plugin_violations([plugin_file], {plugin_file: fine}) == []
    core_file = CORE / "engine.py"
    core = ("BUILTINS = ['assistant_plugins.zero_shot']\nimport importlib\n"
            "def f():\n    import assistant_plugins.zero_shot\n    from assistant_plugins import feedback\n")
    bad = core_violations([core_file], {core_file: core})
    assert [line.split(":")[1] for line in bad] == ["4", "5"], "\n".join(bad)


def test_public_modules_are_documented_and_declare_their_names():
    for module in ["assistant", *PUBLIC_MODULES]:
        names = declared_all(module)
        assert names, f"{module} declares no __all__: say what plugins may use"
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [m for m in PUBLIC_MODULES if f"`{m}`" not in guide]
    assert not missing, f"docs/plugins.md does not name the public modules {missing} (assistant/docgen.py INTRO)"


def test_public_modules_import_no_heavy_library():
    """`assistant --help` and a plugin's import stay light."""
    code = ("import sys\nimport " + ", ".join(["assistant", *PUBLIC_MODULES]) +
            f"\nprint(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    assert not loaded, f"importing the public API imported: {loaded}"


def test_the_docs_examples_import_only_the_public_api():
    """The hook examples and the template package are what plugin authors copy."""
    examples = python_files(ROOT / "docs" / "examples")
    assert len(examples) > 10
    bad = plugin_violations(examples)
    assert not bad, _report("a docs example reaches into the core's internals", bad)


def test_every_public_name_exists_and_every_builtin_meets_its_protocol():
    import assistant
    from assistant import AdapterKind, Backend, ExampleSelector, Retriever, Settings, Strategy
    from assistant.plugins import make_plugin_host
    from assistant.strategy import build_options

    assert [n for n in assistant.__all__ if not hasattr(assistant, n)] == []
    registry = make_plugin_host().registry
    for name, reg in registry.of("strategy").items():
        assert isinstance(reg.obj(build_options(name, reg.obj, {})), Strategy), name
    for name, reg in registry.of("backend").items():
        assert isinstance(reg.obj(), Backend), name
    for name, reg in registry.of("adapter_kind").items():
        assert isinstance(reg.obj(), AdapterKind), name
    for name, reg in registry.of("example_selector").items():
        assert isinstance(reg.obj(Settings()), ExampleSelector), name
    for name, reg in registry.of("retriever").items():
        assert all(callable(getattr(reg.obj, m, None)) for m in ("exists", "sync", "search")), name
    assert Retriever and registry.of("strategy") and registry.of("backend") and registry.of("adapter_kind")


def test_the_builtin_and_the_docs_vector_stores_meet_the_store_protocol(tmp_path):
    import importlib.util

    from assistant import StoreRetriever, VectorStore
    from assistant_plugins.faiss_retrieval.faiss_store import FaissStore
    from assistant_plugins.faiss_retrieval.retriever import FaissRetriever

    assert isinstance(FaissStore(tmp_path / "f", 1000, 8), VectorStore) and issubclass(FaissRetriever, StoreRetriever)
    spec = importlib.util.spec_from_file_location("numpy_store", ROOT / "docs" / "examples" / "stores" / "numpy_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.NumpyStore(tmp_path / "n"), VectorStore)
    assert issubclass(module.NumpyRetriever, StoreRetriever) and module.NumpyRetriever.name == "numpy"
