"""A loader for CSV files: one line of text per row, with the header as labels."""

import csv
import io

from assistant import LoadedDocument, hookimpl


def load_csv(path):
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if len(rows) < 2:
        raise ValueError("no data rows")  # the indexer reports the file as skipped, with this reason
    header, body = rows[0], rows[1:]
    lines = ["; ".join(f"{h}: {v}" for h, v in zip(header, row)) for row in body]
    return LoadedDocument(text="\n".join(lines))


@hookimpl
def register_loaders(register):
    register(".csv", load_csv)
