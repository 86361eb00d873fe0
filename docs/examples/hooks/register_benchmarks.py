"""A benchmark for `assistant bench --only csv_loader`: the CSV loader of the
`register_loaders` example against reading the same file with `csv` alone,
both measured in the same run so the ratio means something on any machine."""

import csv
import io
import tempfile
import time
from pathlib import Path

from assistant import LoadedDocument, hookimpl
from assistant.bench import Row, median, ratio


def labelled_lines(path):
    """The register_loaders example's CSV loader (examples are loaded one file at a time)."""
    header, *body = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return LoadedDocument(text="\n".join("; ".join(f"{h}: {v}" for h, v in zip(header, row)) for row in body))


def bench_csv_loader(ctx):
    """Loading a CSV file through the loader vs reading it with the csv module."""
    rows = ctx.size(20_000, 200)  # --quick: a smoke test
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        path.write_text("name,colour,count\n" + "".join(f"item{i},green,{i}\n" for i in range(rows)),
                        encoding="utf-8")
        ours, raw = [], []
        for _ in range(ctx.repeat):
            start = time.perf_counter()
            labelled_lines(path)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
            raw.append(time.perf_counter() - start)
    ctx.log(f"csv_loader: {rows:,} rows, {ctx.repeat} repetitions")
    ours_s, raw_s = median(ours), median(raw)
    speed = ratio(raw_s, ours_s)  # higher is better: raw time / our time
    return [Row("csv_loader.load_s", ours_s, "s", f"load a {rows:,}-row CSV, s (vs csv.reader)",
                baseline=raw_s, baseline_name="csv.reader", ratio=speed,
                goal=">= 0.3x", met=speed >= 0.3 if speed is not None else None)]


@hookimpl
def register_benchmarks(register):
    register("csv_loader", bench_csv_loader)
