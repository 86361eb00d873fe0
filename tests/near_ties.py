"""Comparing the greedy texts of two numerical paths (batched vs alone,
bfloat16 vs float32, one kernel vs another) so that the comparison holds on
any CPU of this kind: the texts must be equal, or part only where the
reference model's two best tokens are within ``NEAR_TIE`` nats, a near-tie
that another rounding may break the other way. A wrong mask, position or
cache parts them at a clear lead and fails."""

from __future__ import annotations

NEAR_TIE = 0.5  # nats; the largest rounding effect measured between these paths is 0.19


def assert_same_up_to_near_tie(llm, prompt, ours: str, reference: str, near_tie: float = NEAR_TIE) -> None:
    """``llm`` (a transformers backend in float32) judges the near-tie: the
    texts are tokenized, and at the first token where they part, the
    reference's token and ours must both be within ``near_tie`` of the best."""
    import torch

    if ours == reference:
        return
    tok = llm.tokenizer
    a = tok(ours, add_special_tokens=False)["input_ids"]
    b = tok(reference, add_special_tokens=False)["input_ids"]
    k = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    assert k < len(a) and k < len(b), f"one text is a prefix of the other: {ours!r} vs {reference!r}"
    prompt_ids = tok(llm.render(prompt), add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = llm.model(input_ids=torch.tensor([prompt_ids + b[:k]])).logits[0, -1].float()
    logp = torch.log_softmax(logits, dim=-1)
    best = float(logp.max())
    for name, token in (("ours", a[k]), ("reference", b[k])):
        gap = best - float(logp[token])
        assert gap < near_tie, (f"the texts part at token {k} with a clear lead ({name} is {gap:.2f} nat below the "
                                f"best): {ours!r} vs {reference!r}")
