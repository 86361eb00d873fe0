"""A verifier that prefers shorter answers (higher score is better)."""

from assistant import hookimpl


@hookimpl
def score_candidates(query, candidates, prompt):
    return [-float(len(c.text.split())) for c in candidates]
