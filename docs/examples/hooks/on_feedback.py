"""Log every rating or ranking as one JSON line under the data folder."""

import json

from assistant import data_dir, hookimpl


@hookimpl
def on_feedback(feedback):
    log = data_dir() / "feedback.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": feedback.kind, "answers": feedback.answer_ids, "value": feedback.value,
                             "ranking": feedback.ranking, "comment": feedback.comment}) + "\n")
