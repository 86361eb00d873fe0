"""Tree-of-thought: search over partial solutions ("thoughts"), letting the
model both propose next steps and judge how promising each state is.

Yao et al., "Tree of Thoughts: Deliberate Problem Solving with Large
Language Models" (NeurIPS 2023): on Game of 24, GPT-4 went from 4 % with
chain-of-thought to 74 % with a breadth-first ToT of breadth 5. The choices
of the paper are options here:

* ``search``: ``bfs`` keeps the ``breadth`` best states at each level for
  ``depth`` levels; ``dfs`` goes down the most promising child first,
  prunes children valued under ``threshold`` and backtracks when a node has
  none left (up to ``max_nodes`` expansions);
* ``generation``: ``sample`` draws ``branching`` one-line next steps
  independently (decoding stops at the end of the line), ``propose`` asks
  for ``branching`` different next steps in one reply;
* ``evaluation``: ``value`` rates each state sure / likely / impossible
  (1 / 0.5 / 0; a few tokens each), ``vote`` has the model pick the most
  promising state ``votes`` times and counts.

In bfs a whole level is one batched generation call over the frontier and
one evaluation call over all its children -- the paper's candidate set
S'_t valued together -- so a level costs two calls whatever the breadth,
and the backend decodes the sequences side by side (llama.cpp shares each
prompt's prefill among its samples).

The final answer is written from the best state's steps. The trace holds the
whole tree: every node's thought, value and whether it was pruned or kept.
Use it for problems with checkable intermediate steps (puzzles, planning,
multi-step arithmetic) on models large enough to judge their own steps.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from assistant import BudgetExhausted, ConfigError, Prompt, Step, StrategyCall, StrategyResult, hookimpl
from assistant.answers import extract

VALUES = {"sure": 1.0, "likely": 0.5, "impossible": 0.0}
VALUE_TOKENS = 10  # a value is one word (the first of VALUES found in the reply counts)
VOTE_TOKENS = 16  # "The best choice is N"


def proposals(reply: str, branching: int) -> list[str]:
    """Up to ``branching`` distinct steps from a reply listing one per line (bullets and numbers removed)."""
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in reply.splitlines()]
    return list(dict.fromkeys(line for line in lines if line))[:branching]


@hookimpl
def register_strategies(register):
    register("tree_of_thought", TreeOfThought)


@dataclass
class TreeOfThoughtOptions:
    search: str = field(default="bfs", metadata={"help": "bfs (beam over levels) or dfs (depth first, with backtracking)."})
    generation: str = field(default="sample", metadata={"help": "sample (independent next steps) or propose (a list in one reply)."})
    evaluation: str = field(default="value", metadata={"help": "value (rate each state) or vote (pick the best state by votes)."})
    breadth: int = field(default=2, metadata={"help": "States kept per level in bfs (beam width)."})
    branching: int = field(default=3, metadata={"help": "Next steps generated per state."})
    depth: int = field(default=3, metadata={"help": "Steps from the question to a full solution."})
    threshold: float = field(default=0.5, metadata={"help": "dfs prunes children valued below this."})
    votes: int = field(default=3, metadata={"help": "Votes cast per level with evaluation=vote."})
    max_nodes: int = field(default=12, metadata={"help": "Most states expanded (dfs)."})


@dataclass
class Node:
    id: int
    parent: int | None
    steps: tuple[str, ...]
    value: float = 0.0
    status: str = "open"  # open, kept, pruned, expanded, solution

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "parent": self.parent, "thought": self.steps[-1] if self.steps else "",
                "value": round(self.value, 3), "status": self.status}


def state_text(question: str, steps: tuple[str, ...]) -> str:
    lines = "\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, start=1))
    return f"Problem: {question}\n{lines}" if steps else f"Problem: {question}"


class TreeOfThought:
    """Search a tree of partial solutions, judged by the model, then answer from the best one."""

    Options = TreeOfThoughtOptions

    def __init__(self, options: TreeOfThoughtOptions | None = None) -> None:
        self.options = o = options or TreeOfThoughtOptions()
        for name, value, allowed in (("search", o.search, ("bfs", "dfs")), ("generation", o.generation, ("sample", "propose")),
                                     ("evaluation", o.evaluation, ("value", "vote"))):
            if value not in allowed:
                raise ConfigError(f"tree_of_thought: {name} must be {' or '.join(allowed)}, not {value!r}")

    # ---------------------------------------------------------------- model use

    def _ask(self, call: StrategyCall, text: str) -> Prompt:
        return dataclasses.replace(call.prompt, input=text)

    def generate(self, call: StrategyCall, nodes: list[Node]) -> list[list[str]]:
        """The next steps of each node: every node's prompt in one batched call."""
        o = self.options
        states = [state_text(call.question, n.steps) for n in nodes]
        if o.generation == "propose":
            prompts = [self._ask(call, f"{state}\n\nPropose {o.branching} different possible next steps, one per "
                                       "line.") for state in states]
            groups = call.llm.generate(prompts, decoding=call.decoding, label="propose")
            return [proposals(group[0].text, o.branching) for group in groups]
        # a thought is one line: stop there instead of decoding a whole solution that would be cut away
        sampled = dataclasses.replace(call.decoding, temperature=call.decoding.temperature or 0.7,
                                      stop=(*call.decoding.stop, "\n"))
        groups = call.llm.generate([self._ask(call, f"{state}\n\nWrite only the next step.") for state in states],
                                   n=o.branching, decoding=sampled, label="sample thoughts")
        return [list(dict.fromkeys(c.text.strip().splitlines()[0] for c in group if c.text.strip()))
                for group in groups]

    def evaluate(self, call: StrategyCall, nodes: list[Node]) -> None:
        o = self.options
        if not nodes:
            return
        if o.evaluation == "value":
            prompts = [self._ask(call, f"{state_text(call.question, n.steps)}\n\nCan these steps reach a correct "
                                       "answer? Reply with one word: sure, likely or impossible.") for n in nodes]
            short = dataclasses.replace(call.decoding, max_new_tokens=min(call.decoding.max_new_tokens, VALUE_TOKENS))
            for node, group in zip(nodes, call.llm.generate(prompts, decoding=short, label="value states")):
                word = next((w for w in VALUES if w in group[0].text.lower()), "likely")
                node.value = VALUES[word]
            return
        listing = "\n\n".join(f"Choice {i}:\n{state_text(call.question, n.steps)}" for i, n in enumerate(nodes, 1))
        sampled = dataclasses.replace(call.decoding, temperature=call.decoding.temperature or 0.7,
                                      max_new_tokens=min(call.decoding.max_new_tokens, VOTE_TOKENS))
        ballots = call.llm.generate([self._ask(call, f"{listing}\n\nWhich choice is most promising? Reply "
                                                     "'The best choice is N'.")], n=o.votes, decoding=sampled,
                                    label="vote states")[0]
        counts = [0] * len(nodes)
        for ballot in ballots:
            match = re.search(r"(\d+)", ballot.text)
            if match and 1 <= int(match.group(1)) <= len(nodes):
                counts[int(match.group(1)) - 1] += 1
        for node, count in zip(nodes, counts):
            node.value = count / max(len(ballots), 1)

    # ---------------------------------------------------------------- search

    def run(self, call: StrategyCall) -> StrategyResult:
        o = self.options
        tree = [Node(0, None, ())]
        stopped = ""
        try:
            best = self._bfs(call, tree) if o.search == "bfs" else self._dfs(call, tree)
        except BudgetExhausted as exc:
            stopped = exc.message
            scored = [n for n in tree if n.steps]
            best = max(scored, key=lambda n: (n.value, len(n.steps))) if scored else tree[0]
        best.status = "solution"
        text = " ".join(best.steps)
        if not stopped:
            try:
                final = self._ask(call, f"{state_text(call.question, best.steps)}\n\nUsing these steps, give the "
                                        "final answer.")
                text = call.llm.generate([final], decoding=call.decoding, label="final answer")[0][0].text
            except BudgetExhausted as exc:
                stopped = exc.message
        if call.on_text is not None:
            call.on_text(text)
        step = Step(kind="tree", name=f"{o.search}/{o.generation}/{o.evaluation}", ms=0.0,
                    detail={"nodes": [n.as_dict() for n in tree], "best": best.id,
                            **({"stopped": stopped} if stopped else {})})
        return StrategyResult(text=text, steps=(step,),
                              metadata={"answer": extract(text), "steps": list(best.steps), "nodes": len(tree),
                                        **({"budget": stopped} if stopped else {})})

    def _expand(self, call: StrategyCall, tree: list[Node], nodes: list[Node]) -> list[Node]:
        """The children of ``nodes``, generated in one batched call and valued together in another."""
        for node in nodes:
            node.status = "expanded"
        children = []
        for node, thoughts in zip(nodes, self.generate(call, nodes)):
            for thought in thoughts:
                children.append(Node(len(tree), node.id, node.steps + (thought,)))
                tree.append(children[-1])
        self.evaluate(call, children)
        return children

    def _bfs(self, call: StrategyCall, tree: list[Node]) -> Node:
        o = self.options
        frontier = [tree[0]]
        for _ in range(max(1, o.depth)):
            children = self._expand(call, tree, frontier)  # Yao et al.'s S'_t, valued as one set
            if not children:
                break
            children.sort(key=lambda n: -n.value)
            frontier = children[: max(1, o.breadth)]
            for c in children:
                c.status = "kept" if c in frontier else "pruned"
        return frontier[0]

    def _dfs(self, call: StrategyCall, tree: list[Node]) -> Node:
        o = self.options
        best: list[Node] = []

        def visit(node: Node) -> bool:
            if len(node.steps) >= o.depth:
                best.append(node)
                return True
            if sum(1 for n in tree if n.status == "expanded") >= o.max_nodes:
                return False
            children = sorted(self._expand(call, tree, [node]), key=lambda n: -n.value)
            for child in children:
                child.status = "pruned" if child.value < o.threshold else "kept"
            for child in children:
                if child.status == "kept" and visit(child):
                    return True
            return False  # every child pruned or failed: backtrack

        visit(tree[0])
        if best:
            return best[0]
        scored = [n for n in tree if n.steps]
        return max(scored, key=lambda n: (n.value, len(n.steps))) if scored else tree[0]
