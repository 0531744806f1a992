"""Per-request rows of a serving run, streamed to a CSV file as requests finish."""

from __future__ import annotations

import csv

COLUMNS = ("id", "arrival_s", "prompt_tokens", "output_tokens", "first_token_s", "finish_s",
           "ttft_s", "tpot_s", "e2e_s", "energy_j", "preemptions")


class RowWriter:
    """A context manager writing rows (dicts with :data:`COLUMNS`) to ``path``; with no path
    it writes nothing. Memory stays flat: each row goes to the file as it comes."""

    def __init__(self, path: str | None):
        self.path = path
        self._file = None
        self._writer = None

    def __enter__(self) -> "RowWriter":
        if self.path:
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._writer.writeheader()
        return self

    def write(self, row: dict) -> None:
        if self._writer is not None:
            self._writer.writerow({k: (f"{v:.9g}" if isinstance(v, float) else v)
                                   for k, v in row.items()})

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
