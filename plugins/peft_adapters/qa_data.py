"""Question-answer training data from indexed documents: ``assistant dataset qa``.

The seed recipe: for each passage the local model writes a one-sentence
summary, then questions about the passage (the summary steers them to its
main point), then answers each question from the passage, the way a chat
turn would. Small models write many unusable pairs, so filters drop them and
say why: a "question" without a question mark or too short/long, a question
copied from the passage, a duplicate, an empty, refusing, overlong or
question-echoing answer, and an answer whose words are mostly not in the
passage (not grounded). When the free answer fails, the passage sentence the
model itself finds likeliest as the answer replaces it (extractive QA by
likelihood; the record says which). Every kept record carries ``question``, ``context``,
``answer``, ``source`` and ``summary``: the ``qa`` template's fields.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant import Decoding, Example, Passage, Prompt

WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset("a an the of to in on for and or is are was were be by with as at it this that from which what "
                 "how why who when where does do did can could should would will its their there".split())
REFUSALS = ("i don't know", "i do not know", "i'm sorry", "i am sorry", "cannot answer", "not mentioned",
            "no information", "does not say", "doesn't say", "as an ai")


@dataclass
class QAReport:
    records: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    passages: int = 0
    model_calls: int = 0


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _content(text: str) -> set[str]:
    return {w for w in _words(text) if w not in STOP and len(w) > 2}


QUESTION = re.compile(r"\b((?:what|which|who|whom|whose|when|where|why|how|is|are|does|do|did|can|could|should|"
                      r"would|will|was|were|has|have)\b[^?\n]{8,200}\?)", re.I)


def first_question(text: str) -> str:
    """The first real question anywhere in a sample (small models wrap it in
    chatter: "This passage answers the question: What ...?"); "" if none."""
    match = QUESTION.search(text)
    if not match:
        return ""
    question = match.group(1).strip()
    return question[0].upper() + question[1:]


def check_question(question: str, passage: str, seen: set[str]) -> str | None:
    """Why this question is unusable, or None."""
    words = _words(question)
    if not question.endswith("?"):
        return "no question in the sample"
    if not 4 <= len(words) <= 30:
        return "question too short or too long"
    if question.lower().rstrip("?") in passage.lower():
        return "question copied from the passage"
    asked = _content(question)
    if len(asked & _content(passage)) < max(1, 0.3 * len(asked)):
        return "question not about the passage"
    key = " ".join(words)
    if key in seen:
        return "duplicate question"
    return None


def check_answer(answer: str, question: str, passage: str, min_grounding: float = 0.5) -> str | None:
    """Why this answer is unusable, or None."""
    words = _words(answer)
    lowered = answer.lower()
    if len(words) < 3 or not any(len(w) > 2 and w.isalpha() for w in words):
        return "empty answer"
    if len(words) > 80:
        return "answer too long"
    if re.match(r"^\s*\[\d+\]\s+\S+:\d", answer):
        return "answer copies a passage header"
    if any(r in lowered for r in REFUSALS):
        return "answer refuses"
    if len(_content(re.sub(r"\bthe answer is\b", "", lowered))) < 2:
        return "answer says nothing"
    if question.lower().rstrip("?") in lowered:
        return "answer repeats the question"
    if repetitive(answer):
        return "answer repeats itself"
    content = _content(answer)
    if content and len(content & _content(passage)) / len(content) < min_grounding:
        return "answer not grounded in the passage"
    return None


def repetitive(text: str, n: int = 4) -> bool:
    """True when a line or a word 4-gram occurs more than once: a small model
    stuck in a loop, the commonest failure of greedy decoding."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != len(set(lines)):
        return True
    words = _words(text)
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def sentences(text: str) -> list[str]:
    """Prose sentences of 4-60 words (headings, code and list markers left out)."""
    prose = "\n".join(line for line in text.splitlines()
                      if line.strip() and not line.lstrip().startswith(("#", "```", "    ")))
    parts = re.split(r"(?<=[.!?])\s+|\n(?=\s*[-*]\s)", prose)
    return [" ".join(p.lstrip("-* ").split()) for p in parts if 4 <= len(_words(p)) <= 60]


def extract_answer(llm: Any, prompt: Prompt, passage: str) -> str:
    """The passage sentence with the highest mean per-token log-likelihood as
    the model's answer to ``prompt``: extractive QA by the model's own scores,
    always grounded, for when a small model's free answer is unusable."""
    best, best_score = "", float("-inf")
    for sentence in sentences(passage):
        score = llm.score(prompt, sentence) / max(1, len(_words(sentence)))
        if score > best_score:
            best, best_score = sentence, score
    return best


def first_paragraph(text: str) -> str:
    """An answer up to its first blank line: what follows is usually a loop or chatter."""
    return text.strip().split("\n\n", 1)[0].strip()


def summary_prompt(passage: Passage) -> Prompt:
    return Prompt(input=f"Summarize this passage in one sentence.\n\n{passage.text.strip()}",
                  instructions="You write short, factual summaries.")


EXAMPLE = Example(
    input=("Passage:\nThe kettle switches itself off when the water boils. Descale it every month "
           "with white vinegar.\n\nWrite one question that this passage answers. Reply with the question only."),
    output="How often should the kettle be descaled?")


def question_prompt(passage: Passage, summary: str) -> Prompt:
    """One worked example (a small model follows a shown format far better than a described one)."""
    return Prompt(input=(f"Passage:\n{passage.text.strip()}\n\n"
                         "Write one question that this passage answers. Reply with the question only."),
                  instructions="You write clear questions for a reading quiz.", examples=(EXAMPLE,))


def answer_prompt(passage: Passage, question: str, instructions: str) -> Prompt:
    return Prompt(input=question, instructions=instructions, passages=(passage,))


def generate_qa(llm: Any, passages: list[Passage], questions_per_passage: int = 3, max_new_tokens: int = 64,
                instructions: str = "", min_grounding: float = 0.5, seed: int = 0,
                on_passage: Callable[[QAReport], None] | None = None) -> QAReport:
    """Run the recipe over ``passages`` with ``llm``: a greedy summary, then
    ``2 * questions_per_passage`` questions sampled in one batched call
    (greedy lists from a small model repeat one question), then the kept
    questions answered greedily in one batch; an unusable answer is replaced
    by the passage sentence the model scores likeliest (:func:`extract_answer`)."""
    summarise = Decoding(max_new_tokens=60, repetition_penalty=1.1)
    sample = Decoding(max_new_tokens=40, temperature=0.7, top_p=0.95, seed=seed)
    answering = Decoding(max_new_tokens=max_new_tokens)
    report = QAReport()
    seen: set[str] = set()
    for passage in passages:
        report.passages += 1
        summary = llm.generate([summary_prompt(passage)], decoding=summarise, label="summary")[0][0].text.strip()
        summary = summary.splitlines()[0] if summary else ""
        drafts = llm.generate([question_prompt(passage, summary)], n=3 * questions_per_passage,
                              decoding=sample, label="questions")[0]
        report.model_calls += 2
        questions = []
        for question in (first_question(c.text) for c in drafts):
            problem = check_question(question, passage.text, seen)
            if problem:
                report.dropped[problem] += 1
                continue
            seen.add(" ".join(_words(question)))
            questions.append(question)
            if len(questions) == questions_per_passage:
                break
        if questions:
            prompts = [answer_prompt(passage, q, instructions) for q in questions]
            answers = [first_paragraph(group[0].text)
                       for group in llm.generate(prompts, decoding=answering, label="answer")]
            report.model_calls += 1
            for question, prompt, answer in zip(questions, prompts, answers):
                kind = "generated"
                problem = check_answer(answer, question, passage.text, min_grounding)
                if problem:  # fall back to the passage sentence the model finds likeliest as the answer
                    report.dropped[f"generated {problem}; extracted instead"] += 1
                    answer = extract_answer(llm, prompt, passage.text)
                    report.model_calls += len(sentences(passage.text))
                    kind = "extracted"
                    problem = check_answer(answer, question, passage.text, min_grounding) if answer else "no sentence"
                if problem:
                    report.dropped[problem] += 1
                    continue
                report.records.append({"question": question, "context": passage.text.strip(), "answer": answer,
                                       "source": passage.location, "summary": summary, "answer_kind": kind})
        else:
            report.dropped["no usable question for a passage"] += 1
        if on_passage:
            on_passage(report)
    return report
