"""Log every answer as one JSON line under the data folder."""

import json

from assistant import data_dir, hookimpl


@hookimpl
def on_answer(answer):
    log = data_dir() / "answers.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": answer.id, "question": answer.question, "text": answer.text,
                             "sources": [c.passage.location for c in answer.citations]}) + "\n")
