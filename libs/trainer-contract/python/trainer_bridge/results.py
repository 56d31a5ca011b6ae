"""results.csv, the per-epoch table every trainer keeps beside its checkpoints (CONTRACT section 6)."""

import csv
import os
from pathlib import Path

from .numbers import numbers


def write_results(path, rows, fields=None):
    """Writes every row at once, atomically (temp file, then rename), so a SIGTERM never leaves half a table.
    `fields` fixes the columns and their order; by default they are every key the rows have, in first-seen order."""
    path = Path(path)
    if fields is None:
        fields = list(dict.fromkeys(k for row in rows for k in row))
    if not fields:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        # "\n", as Ultralytics writes its results.csv: readers split lines, and a stray "\r" ends up in the last column.
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def read_results(path):
    """The rows as {column: finite float} (headers trimmed: some frameworks pad them); `epoch` is an int.
    A missing file reads as no rows."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        rows = [numbers({k: v for k, v in row.items() if k}) for row in csv.DictReader(f)]
    for row in rows:
        if "epoch" in row:
            row["epoch"] = int(row["epoch"])
    return rows

