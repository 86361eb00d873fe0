"""Every hook a plugin can implement. Each docstring is the plugin author's
documentation: what the arguments are, what to return, how results combine.

Write an implementation as a plain function decorated with
``assistant.hookimpl`` in a module or class, name it exactly like the hook,
and accept any subset of the hook's arguments (new arguments are only ever
added, so a plugin written against fewer arguments keeps working).

Two kinds of hooks:

* **Registration hooks** (``register_*``) are called once, when plugins load.
  They receive a ``register`` callback; call it once per thing you provide.
  The core records which plugin registered what (``assistant plugins``) and
  reports name collisions, naming both plugins.
* **Pipeline hooks** are called on every turn of ``Engine.answer()``. Every
  implementation is called, one at a time, in pluggy's order (last registered
  first; ``tryfirst``/``trylast`` move an implementation). If one raises, the
  turn fails with an error naming the plugin. ``hookwrapper``/``wrapper``
  implementations are not supported and are refused at load time.

Isolation: by default (setting ``plugin_errors = "isolate"``) a pipeline-hook
implementation that raises, returns the wrong type, or exceeds the time
budget (``plugin_timeout_s``; with a budget set, implementations run in a
worker thread) loses only its own contribution, and the answer carries a
notice naming the plugin. With ``plugin_errors = "fail"`` the turn fails.

Compatibility: this contract has a version, :data:`HOOK_CONTRACT_VERSION`.
A plugin may declare the versions it supports as a module attribute,
``ASSISTANT_HOOK_CONTRACT = ">=1,<2"``; an incompatible plugin is refused at
load time with a message. The version goes up only when a hook's meaning
changes; adding an argument does not change it.

Hook call tracing: set ``ASSISTANT_TRACE_HOOKS=1`` to print every call with
its plugin, arguments summary, duration and result summary to stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # only for annotations: keep this module import-light
    from .config import Settings
    from .types import Answer, Candidate, Example, Feedback, Passage, Prompt

PROJECT = "assistant"
HOOK_CONTRACT_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ----------------------------------------------------------------- registration


@hookspec
def register_strategies(register: Callable[[str, type], None]) -> None:
    """Register prompt strategies, each under a unique name.

    Args:
        register: call ``register(name, strategy_class)``. ``strategy_class``
            has a class attribute ``Options`` (a dataclass whose fields, with
            defaults and ``metadata={"help": ...}``, are the user-settable
            options), is constructed as ``strategy_class(options)``, and has
            ``run(call: StrategyCall) -> StrategyResult``. Its docstring is
            shown by ``assistant strategies``.

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_retrievers(register: Callable[[str, type], None]) -> None:
    """Register retrievers: index backends that can build and search collections.

    Args:
        register: call ``register(name, retriever_class)``. The class is
            constructed as ``retriever_class(collection: str, settings: Settings,
            loaders: dict[str, Callable])`` and offers the three methods of
            ``assistant.Retriever``: ``sync(folder, progress=False,
            rebuild=False) -> SyncReport``, ``search(query, k) -> list[Passage]``
            and ``exists() -> bool``. Optional capabilities, used by the chat
            when present: ``warm_up()``, ``source_root()``, ``collections()``,
            ``describe()`` and ``delete()`` (``assistant.WarmsUp``,
            ``ShowsSources``, ``ListsCollections``, ``Describes``, ``Deletes``;
            the Contracts section below). The user picks one with the
            ``retriever`` setting.

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_backends(register: Callable[[str, type], None]) -> None:
    """Register model backends: what loads and runs the generator.

    Args:
        register: call ``register(name, backend_class)``. The class is
            constructed with no arguments and offers ``assistant.Backend``:
            ``claims(settings) -> bool`` (is ``settings.model`` a spec it is
            meant for), ``problem(settings) -> str | None`` (why it cannot
            run it here, cheaply, loading nothing) and ``load(settings,
            progress) -> LLM``, with the class attributes ``priority``,
            ``label`` and ``capabilities``. The user picks one with the
            ``backend`` setting or ``--backend NAME``; ``auto`` tries them by
            priority. The loaded model declares what it cannot do in its
            ``capabilities`` attribute (``assistant.Capabilities``). The
            built-in ``transformers`` and ``llamacpp`` are registered the
            same way (``assistant/backends/__init__.py``).

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_example_selectors(register: Callable[[str, type], None]) -> None:
    """Register few-shot example selectors.

    Args:
        register: call ``register(name, selector_class)``; the class is
            constructed as ``selector_class(settings)`` and offers
            ``select(query, k) -> list[Example]``. The user picks one with the
            ``example_selector`` setting.

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_loaders(register: Callable[[str, Callable], None]) -> None:
    """Register document loaders by file suffix.

    Args:
        register: call ``register(suffix, load)`` with a suffix such as
            ``".md"`` and a function ``load(path: Path) -> LoadedDocument``
            (``assistant.LoadedDocument``: the text and, for paged formats,
            page start offsets). Raise ``ValueError`` with a reason to skip a file.

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_adapter_kinds(register: Callable[[str, type], None]) -> None:
    """Register kinds of model adapters (LoRA, soft prompts, ...).

    Args:
        register: call ``register(kind, adapter_class)``. The class offers
            ``AdapterKind`` (``assistant/adapters.py``): the class attributes
            ``name``, ``Options`` (a dataclass of hyper-parameters with
            defaults, set by the flags of ``assistant tune sft``) and
            ``prompt_learning`` (virtual tokens rather than changed weights),
            and ``peft_config(options, model)``, which returns the ``peft``
            config to train. ``assistant tune sft --kind KIND`` trains one;
            both backends apply the trained adapter (see ``Capabilities.adapter_kinds``).

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add command-line commands.

    Args:
        cli: the root ``click.Group`` of the ``assistant`` command; add
            commands with ``@cli.command()``. Import heavy libraries inside
            the command function, never at module level, so ``assistant
            --help`` stays fast.

    Returns:
        Nothing; return values are ignored.
    """


@hookspec
def register_benchmarks(register: Callable[[str, Callable], None]) -> None:
    """Register benchmarks for ``assistant bench``.

    Args:
        register: call ``register(name, bench)`` with a name for ``--only``
            and a function ``bench(ctx: assistant.bench.BenchContext) ->
            list[assistant.bench.Row]``. Every row's ``name`` starts with
            ``"<name>."``; a row with a ``baseline`` measured in the same run
            carries its ``ratio`` (``assistant.bench.ratio``), so the figure
            means something on any machine. ``ctx.size(full, quick)`` picks
            the size for ``--quick``, ``ctx.repeat`` is the number of
            repetitions, ``ctx.log`` reports progress; raise
            ``assistant.bench.Skip`` with the reason when a precondition (a
            data set, a library) is missing. A full ``assistant bench`` runs
            the core's benchmarks, then the plugins'.

    Returns:
        Nothing; return values are ignored.
    """


# --------------------------------------------------------------------- pipeline


@hookspec
def retrieve(query: str, k: int, settings: Settings) -> Sequence[Passage] | None:
    """Contribute passages for a question, beside the selected retriever's.

    Use this for sources that are not an indexed collection (a database, an
    API, today's notes). The engine fuses every list returned here with the
    selected retriever's results by reciprocal-rank fusion and keeps the
    best ``k``.

    Args:
        query: the question (condensed with the conversation when there is one).
        k: how many passages the engine wants in the end.
        settings: the current settings; your own section is
            ``settings.plugin_options("<your plugin name>")``.

    Returns:
        A list of ``Passage`` best first, or ``None`` to contribute nothing.
    """


@hookspec
def select_examples(query: str, k: int, settings: Settings) -> Sequence[Example] | None:
    """Contribute few-shot examples for a question.

    Called beside the selected example selector; all lists are concatenated
    (duplicates by ``id`` removed) and cut to ``k`` in the order returned.

    Args:
        query: the question.
        k: how many examples the engine wants (0 means none are wanted; you
            are still called so you can observe the query).
        settings: the current settings.

    Returns:
        A list of ``Example`` best first, or ``None``.
    """


@hookspec
def condition_prompt(prompt: Prompt, query: str, settings: Settings) -> Prompt | None:
    """Edit the prompt before the strategy sees it (persona, constraints, metadata).

    Implementations are chained: each receives the prompt as left by the
    previous one. Derive a changed copy with ``dataclasses.replace``; never
    mutate the value you receive.

    Args:
        prompt: the ``Prompt`` so far (instructions, passages, examples, input...).
        query: the user's question as typed.
        settings: the current settings.

    Returns:
        The new ``Prompt``, or ``None`` to leave it unchanged.
    """


@hookspec
def score_candidates(query: str, candidates: Sequence[Candidate], prompt: Prompt,
                     settings: Settings) -> Sequence[float] | None:
    """Act as a verifier: score candidate answers (higher is better).

    Strategies such as best-of-N and tree-of-thought call this through
    ``StrategyCall.score_candidates`` and receive every verifier's scores
    keyed by plugin name. The built-in feedback plugin answers here with the
    reward model the ``reward_model`` setting names (trained by
    ``assistant tune reward``), and abstains when it names none.

    Args:
        query: the question.
        candidates: the candidate answers to judge.
        prompt: the conditioned prompt they answer.
        settings: the current settings (an implementation may leave this
            argument out of its signature; pluggy passes only what it names).

    Returns:
        One float per candidate, in order, or ``None`` to abstain.
    """


@hookspec
def on_answer(answer: Answer, settings: Settings) -> None:
    """Observe a finished answer (log it, store it with provenance).

    Args:
        answer: the ``Answer`` with its text, citations, trace, usage and the
            exact ``prompt`` the strategy was given.
        settings: the current settings.

    Returns:
        Nothing; return values are ignored. An observer that raises loses
        only its own work (the answer gets a notice naming the plugin),
        unless ``plugin_errors = "fail"``.
    """


@hookspec
def on_feedback(feedback: Feedback, settings: Settings) -> None:
    """Observe a user's rating, ranking or pairwise choice of answers.

    Args:
        feedback: the ``Feedback`` (kind, answer ids, value or ranking, comment).
        settings: the current settings.

    Returns:
        Nothing; return values are ignored.
    """
