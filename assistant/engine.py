"""Engine.answer(): the pipeline, and nothing else.

    retrieve -> select examples -> condition -> fit to the context window
    -> strategy.run() -> cite -> on_answer

Headless and synchronous; the CLI and the terminal UI are thin faces over
it. Importing this module imports neither torch, faiss nor textual: the
model loads on first use (``Engine.llm``).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .budget import fit_prompt
from .citations import cite
from .config import Settings
from .errors import AssistantError, ConfigError, PluginError
from .llm import LLM, Budget, BudgetExhausted, MeteredLLM
from .plugins import PluginHost, Registration, make_plugin_host
from .strategy import StrategyCall, build_options
from .types import Answer, Candidate, Decoding, Example, Feedback, Message, Passage, Prompt, Step, SyncReport, Usage

RRF_K = 60  # Cormack et al. (2009), "Reciprocal rank fusion outperforms Condorcet..."


class Engine:
    def __init__(self, settings: Settings | None = None, host: PluginHost | None = None,
                 llm: LLM | None = None, progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings or Settings()
        if self.settings.plugin_errors not in ("isolate", "fail"):
            raise ConfigError(f"plugin_errors must be 'isolate' or 'fail', got {self.settings.plugin_errors!r}")
        self.host = host or make_plugin_host(self.settings.plugins_dir or None)
        self._llm = llm
        self._retrievers: dict[tuple[str, str], Any] = {}
        self.progress = progress
        self.notices: list[str] = []  # about the engine itself (e.g. a backend that fell back)

    # ------------------------------------------------------------- components

    @property
    def llm(self) -> LLM:
        """The model, loaded on first use (converted once from GGUF if needed)."""
        if self._llm is None:
            from .backends import load_llm

            self._llm, notices = load_llm(self.settings, progress=self.progress, backends=self.backends())
            self.notices.extend(notices)
            for notice in notices:  # the terminal UI shows self.notices itself
                if self.progress is not None:
                    self.progress(f"note: {notice}")
        return self._llm

    def adapted_llm(self, spec: str) -> LLM:
        """The model with adapter ``spec`` active ("" or "none": the base model).
        Adapters load once and switch per turn; see ``assistant.adapter_runtime``."""
        from .adapters import AdapterError, AdapterRegistry, AdapterSpec
        from .backend import capabilities_of

        parsed = AdapterSpec.parse(spec)
        llm = self.llm
        if parsed.parts and getattr(llm, "capabilities", None) is not None:
            kinds = capabilities_of(llm).adapter_kinds  # what the backend declares it can apply
            registry = AdapterRegistry()
            for name in parsed.names:
                try:
                    kind = registry.get(name).kind
                except AdapterError:  # not in the default registry: the backend's own says what is wrong
                    continue
                if kind != "reward" and kind not in kinds:  # a reward model gets the runtime's own advice
                    raise AdapterError(
                        f"the model backend {type(llm).__name__} cannot apply {kind} adapters (adapter {name!r})",
                        f"it applies {', '.join(kinds) or 'no adapters'}; use the transformers backend, "
                        "or drop --adapter")
        with_adapter = getattr(llm, "with_adapter", None)
        if with_adapter is None:
            if parsed.parts:
                raise AdapterError(f"the model backend {type(llm).__name__} cannot apply adapters",
                                   "use the transformers backend, or drop --adapter")
            return llm
        return with_adapter(parsed)

    def metered(self, budget: Budget | None = None) -> MeteredLLM:
        """The model as a turn sees it, for a command that calls it outside
        one (generating training data, ranking questions): a backend that
        gives one sample per call is called once per sample, a decoding it
        cannot honour is a ``CapabilityMissing`` with a hint, and every call
        is recorded (``.steps``) and held to ``budget`` (none by default)."""
        return MeteredLLM(self.llm, budget)

    def backends(self) -> dict[str, type]:
        """The registered model backends by name (``register_backends``)."""
        return {name: reg.obj for name, reg in self.host.registry.of("backend").items()}

    def loaders(self) -> dict[str, Callable]:
        return {name: reg.obj for name, reg in self.host.registry.of("loader").items()}

    def retriever(self, collection: str | None = None) -> Any:
        collection = collection or self.settings.collection
        key = (self.settings.retriever, collection)
        if key not in self._retrievers:
            reg = self.host.registry.get("retriever", self.settings.retriever)
            from .retriever import retriever_options

            retriever_options(self.settings, reg.name, reg.obj)  # a wrong -R or [plugins.NAME] fails here, clearly
            try:
                self._retrievers[key] = reg.obj(collection, self.settings, self.loaders())
            except AssistantError:
                raise
            except Exception as exc:
                raise PluginError(f"retriever {reg.name!r} of plugin {reg.plugin!r} failed to start: {exc}",
                                  plugin=reg.plugin) from exc
        return self._retrievers[key]

    def forget_retrievers(self) -> None:
        """Drop the open retrievers (after a collection was deleted or rebuilt elsewhere)."""
        self._retrievers.clear()

    def index(self, folder: str | Path, collection: str | None = None, progress: bool = False,
              rebuild: bool = False, on_progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Sync a collection with a folder. ``on_progress(done, total)`` reports embedding
        progress to a UI (passed only when given and the retriever's ``sync`` takes it)."""
        retriever = self.retriever(collection)
        extra = {"on_progress": on_progress} if on_progress is not None and _takes(retriever.sync, "on_progress") else {}
        return retriever.sync(folder, progress=progress, rebuild=rebuild, **extra)

    def strategy(self, name: str | None = None, options: dict[str, Any] | None = None) -> Any:
        name = name or self.settings.strategy
        reg = self.host.registry.get("strategy", name)
        values = {**self.settings.plugin_options(f"strategy.{name}"), **(options or {})}
        opts = build_options(name, reg.obj, values)
        return reg.obj(opts) if opts is not None else reg.obj()

    def decoding(self, **overrides: Any) -> Decoding:
        s = self.settings
        base = Decoding(max_new_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p,
                        top_k=s.sample_top_k, num_beams=s.num_beams, repetition_penalty=s.repetition_penalty)
        try:
            decoding = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
        except TypeError as exc:
            raise ConfigError(f"bad decoding option: {exc}") from None
        _check_decoding(decoding)
        return decoding

    # ----------------------------------------------------------------- a turn

    def _errors(self, notices: list[str] | None) -> Callable[[PluginError], None] | None:
        """Isolation: a failing plugin's contribution is skipped and noted, unless settings say fail."""
        if self.settings.plugin_errors == "fail" or notices is None:
            return None
        return lambda error: notices.append(f"{error.message}; its contribution was skipped")

    def retrieve(self, query: str, k: int, collection: str | None = None,
                 notices: list[str] | None = None) -> list[Passage]:
        """The selected retriever's passages fused with the ``retrieve`` hook's."""
        lists: list[list[Passage]] = []
        if k > 0:
            reg = self.host.registry.get("retriever", self.settings.retriever)
            lists.append(list(_blamed(reg, "search", lambda: self.retriever(collection).search(query, k))))
        for _plugin, result in self.host.results("retrieve", query=query, k=k, settings=self.settings,
                                                  validate=_list_of(Passage), on_error=self._errors(notices)):
            lists.append(list(result))
        if len(lists) <= 1:
            return lists[0][:k] if lists else []
        return fuse(lists, k)

    def retrieval_queries(self, question: str, history: Sequence[Message], llm: LLM | None = None) -> list[str]:
        """What to search for: the question, and for a follow-up also its condensed form.

        A follow-up ("When was it founded?") names nothing the documents can
        match, so with ``condense = "fuse"`` (the default) the retriever also
        searches the previous question joined to this one, and the two
        rankings are fused: a passage relevant to both rises, and a question
        that changes the subject still finds its own passages. With
        ``condense = "llm"`` the model rewrites the question to stand alone
        (the "condense question" step of conversational RAG; worth it with a
        model larger than the embedded 135M one), through ``llm`` (the turn's
        metered model, so the call counts in its usage and budget).
        """
        earlier = [m.content.strip() for m in history if m.role == "user" and m.content.strip()]
        mode = self.settings.condense
        if mode not in ("fuse", "llm", "off"):
            raise ConfigError(f"condense must be fuse, llm or off, got {mode!r}")
        if not earlier or mode == "off":
            return [question]
        if mode == "llm":
            return [self.condense_question(question, history, llm)]
        return [question, f"{earlier[-1]} {question}"]

    def condense_question(self, question: str, history: Sequence[Message], llm: LLM | None = None) -> str:
        """The model's standalone rewrite of a follow-up question (greedy, short)."""
        turns = "\n".join(f"{m.role.capitalize()}: {' '.join(m.content.split())[:400]}" for m in history[-4:])
        prompt = Prompt(
            input=f"Conversation:\n{turns}\n\nFollow-up question: {question}\n\nStandalone question:",
            instructions="Rewrite the follow-up question so that it can be understood without the conversation. "
                         "Reply with the question only.")
        decoding = Decoding(max_new_tokens=48, temperature=0.0, stop=("\n",))
        rewritten = (llm or self.llm).generate([prompt], n=1, decoding=decoding, label="condense")[0][0].text.strip()
        return rewritten or question

    def select_examples(self, query: str, k: int, notices: list[str] | None = None) -> list[Example]:
        examples: list[Example] = []
        if k > 0 and self.settings.example_selector:
            reg = self.host.registry.get("example_selector", self.settings.example_selector)
            examples.extend(_blamed(reg, "select", lambda: reg.obj(self.settings).select(query, k)))
        for _plugin, result in self.host.results("select_examples", query=query, k=k, settings=self.settings,
                                                  validate=_list_of(Example), on_error=self._errors(notices)):
            examples.extend(result)
        seen: set[str] = set()
        unique = []
        for ex in examples:
            if ex.id is not None and ex.id in seen:
                continue
            if ex.id is not None:
                seen.add(ex.id)
            unique.append(ex)
        return unique[:k]

    def condition(self, prompt: Prompt, query: str, notices: list[str] | None = None) -> Prompt:
        """Chain ``condition_prompt``: each implementation sees the previous one's prompt."""
        results = self.host.call("condition_prompt", prompt=prompt, query=query, settings=self.settings,
                                 chain="prompt", on_error=self._errors(notices),
                                 validate=lambda r: None if isinstance(r, Prompt) else "expected a Prompt or None")
        for _plugin, result in results:
            if result is not None:
                prompt = result
        return prompt

    def score_candidates(self, query: str, prompt: Prompt, candidates: Sequence[Candidate],
                         notices: list[str] | None = None) -> dict[str, list[float]]:
        """Every verifier's scores, keyed by plugin name."""
        def check(result: Any) -> str | None:
            try:
                values = [float(v) for v in result]
            except (TypeError, ValueError):
                return "expected a list of numbers"
            return None if len(values) == len(candidates) else \
                f"expected {len(candidates)} scores, one per candidate, got {len(values)}"

        results = self.host.results("score_candidates", query=query, candidates=list(candidates), prompt=prompt,
                                    settings=self.settings, validate=check, on_error=self._errors(notices))
        return {plugin: [float(v) for v in result] for plugin, result in results}

    def answer(self, question: str, *, strategy: str | None = None, options: dict[str, Any] | None = None,
               decoding: Decoding | None = None, history: Sequence[Message] = (), top_k: int | None = None,
               collection: str | None = None, use_retrieval: bool = True,
               on_text: Callable[[str], None] | None = None, metadata: dict[str, str] | None = None,
               adapter: str | None = None, group: str | None = None) -> Answer:
        """Answer one question; see the module docstring for the pipeline.

        ``adapter`` (default: the ``adapter`` setting) names the adapter this
        turn runs with; "" or "none" runs the base model. ``group`` marks
        answers to the same question (an arena of strategies) as siblings:
        it is the answer's ``metadata["group_id"]``, which observers such as
        the feedback store use. ``metadata`` conditions the prompt
        (audience, genre...)."""
        question = question.strip()
        if not question:
            raise ConfigError("the question is empty", "type a question")
        started = time.perf_counter()
        name = strategy or self.settings.strategy
        runner = self.strategy(name, options)  # fail fast on a bad name or option, before loading anything
        if self._llm is None:
            from .backends import choose_backend

            choose_backend(self.settings, self.backends())  # a model no backend can run fails before retrieval
        decoding = decoding or self.decoding()
        _check_decoding(decoding)
        k = self.settings.top_k if top_k is None else top_k
        steps: list[Step] = []
        plugin_notices: list[str] = []
        self.host.timeout_s = self.settings.plugin_timeout_s

        turn_llm = self.adapted_llm(self.settings.adapter if adapter is None else adapter)
        metered = MeteredLLM(turn_llm, Budget(self.settings.budget_calls, self.settings.budget_tokens,
                                              self.settings.budget_seconds))
        with _timed(steps, "retrieve", "retrieve") as step:
            passages: list[Passage] = []
            if use_retrieval:
                queries = self.retrieval_queries(question, history, metered)
                if len(queries) == 1:
                    passages = self.retrieve(queries[0], k, collection, plugin_notices)
                else:  # the condensed query's list first: it wins ties against the bare follow-up
                    lists = [self.retrieve(q, 2 * k, collection, plugin_notices) for q in reversed(queries)]
                    passages = fuse(lists, k)
                step.update(queries=queries)
            step.update(passages=[(p.id, p.location, round(p.score, 4)) for p in passages])
        with _timed(steps, "examples", "select_examples") as step:
            examples = self.select_examples(question, self.settings.examples_k, plugin_notices)
            step.update(examples=[e.id or e.input[:40] for e in examples])
        prompt = Prompt(input=question, instructions=self.settings.instructions, passages=tuple(passages),
                        examples=tuple(examples), history=tuple(history), metadata=dict(metadata or {}))
        with _timed(steps, "condition", "condition_prompt") as step:
            prompt = self.condition(prompt, question, plugin_notices)
        llm = metered.inner
        limit = llm.context_window - decoding.max_new_tokens
        with _timed(steps, "budget", "fit_context_window") as step:
            prompt, notices = fit_prompt(prompt, llm.count_tokens, limit)
            step.update(limit=limit, notices=notices)
        steps[-1] = dataclasses.replace(steps[-1], notices=tuple(notices))

        call = StrategyCall(question=question, prompt=prompt, llm=metered, decoding=decoding,
                            score_candidates=lambda cands: self.score_candidates(question, prompt, cands,
                                                                                 plugin_notices),
                            on_text=on_text)
        strategy_start = time.perf_counter()
        try:
            result = runner.run(call)
        except BudgetExhausted as exc:
            raise AssistantError(f"strategy {name!r} had no answer when {exc.message}",
                                 "raise budget_calls / budget_tokens / budget_seconds") from None
        except AssistantError:
            raise
        except Exception as exc:
            reg = self.host.registry.get("strategy", name)
            raise PluginError(f"strategy {name!r} (plugin {reg.plugin!r}) failed: {type(exc).__name__}: {exc}",
                              plugin=reg.plugin) from exc
        steps.extend(metered.steps)
        steps.extend(result.steps)
        strategy_ms = (time.perf_counter() - strategy_start) * 1000

        usage = Usage(prompt_tokens=sum(s.prompt_tokens for s in metered.steps),
                      completion_tokens=sum(s.completion_tokens for s in metered.steps),
                      model_calls=len(metered.steps), ms=(time.perf_counter() - started) * 1000)
        answer = Answer(
            id=uuid.uuid4().hex[:16], question=question, text=result.text,
            citations=cite(result.text, prompt.passages), passages=prompt.passages, steps=tuple(steps),
            usage=usage, strategy=name, options=dataclasses.asdict(runner.options) if dataclasses.is_dataclass(
                getattr(runner, "options", None)) else {},
            model=llm.name, decoding=decoding, candidates=result.candidates,
            notices=tuple(notices) + tuple(plugin_notices) + tuple(metered.notices)
            + tuple(dict.fromkeys(n for s in result.steps for n in s.notices)), prompt=prompt,
            metadata={**result.metadata, "strategy_ms": strategy_ms, "collection": collection or self.settings.collection,
                      "adapter": getattr(getattr(turn_llm, "adapter", None), "label", "") or None,
                      **({"group_id": group} if group else {})},
        )
        observer_notices: list[str] = []
        self.host.call("on_answer", answer=answer, settings=self.settings, on_error=self._errors(observer_notices))
        if observer_notices:
            answer = dataclasses.replace(answer, notices=answer.notices + tuple(observer_notices))
        return answer

    def feedback(self, feedback: Feedback) -> list[str]:
        """Hand feedback to the observers; returns notices of any that failed (isolated)."""
        notices: list[str] = []
        self.host.timeout_s = self.settings.plugin_timeout_s
        self.host.call("on_feedback", feedback=feedback, settings=self.settings, on_error=self._errors(notices))
        return notices


def fuse(lists: Sequence[Sequence[Passage]], k: int) -> list[Passage]:
    """Reciprocal-rank fusion: score = sum of 1 / (60 + rank) over lists."""
    scores: dict[str, float] = {}
    first: dict[str, Passage] = {}
    for ranked in lists:
        for rank, passage in enumerate(ranked, start=1):
            scores[passage.id] = scores.get(passage.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(passage.id, passage)
    order = sorted(scores, key=lambda pid: -scores[pid])
    return [dataclasses.replace(first[pid], score=scores[pid]) for pid in order[:k]]


def _blamed(reg: Registration, action: str, fn: Callable[[], Any]) -> Any:
    """Run a registered component; an unexpected exception names its plugin."""
    try:
        return fn()
    except AssistantError:
        raise
    except Exception as exc:
        raise PluginError(f"{reg.kind.replace('_', ' ')} {reg.name!r} (plugin {reg.plugin!r}) failed in {action}: "
                          f"{type(exc).__name__}: {exc}", plugin=reg.plugin,
                          hint="report the bug to the plugin's author") from exc


def _list_of(item_type: type) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, (list, tuple)) and all(isinstance(v, item_type) for v in value):
            return None
        return f"expected a list of {item_type.__name__}"
    return check


def _check_decoding(d: Decoding) -> None:
    problems = []
    if d.max_new_tokens < 1:
        problems.append("max_new_tokens must be at least 1")
    if d.temperature < 0:
        problems.append("temperature must be 0 or more")
    if not 0 < d.top_p <= 1:
        problems.append("top_p must be in (0, 1]")
    if d.top_k < 0 or d.num_beams < 1:
        problems.append("top_k must be 0 or more and num_beams at least 1")
    if d.repetition_penalty <= 0:
        problems.append("repetition_penalty must be above 0")
    if problems:
        raise ConfigError("invalid decoding settings: " + "; ".join(problems))


class _timed:
    """Context manager that appends a Step with the block's duration."""

    def __init__(self, steps: list[Step], kind: str, name: str) -> None:
        self.steps, self.kind, self.name = steps, kind, name
        self.detail: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self.start = time.perf_counter()
        return self.detail

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.steps.append(Step(kind=self.kind, name=self.name,
                                   ms=(time.perf_counter() - self.start) * 1000, detail=self.detail))


def _takes(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` accepts the keyword argument ``name`` (or any keyword)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
