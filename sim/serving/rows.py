"""Per-request rows of a serving run, streamed to a CSV or Parquet file as requests finish."""

from __future__ import annotations

import csv

from sim.core.errors import SimError

COLUMNS = ("id", "arrival_s", "prompt_tokens", "output_tokens", "first_token_s", "finish_s",
           "ttft_s", "tpot_s", "e2e_s", "energy_j", "preemptions")
INTEGER_COLUMNS = ("id", "prompt_tokens", "output_tokens", "preemptions")
#: rows held before a Parquet row group is written (memory stays flat)
PARQUET_BATCH = 4096


class RowWriter:
    """A context manager writing rows (dicts with :data:`COLUMNS`) to ``path``: Parquet for a
    ``.parquet`` name (pyarrow, row groups of :data:`PARQUET_BATCH` rows), CSV otherwise;
    with no path it writes nothing. Memory stays flat: rows leave as they come."""

    def __init__(self, path: str | None, flag: str = "--request-rows"):
        self.path = path
        self.flag = flag
        self._file = None
        self._writer = None
        self._parquet = None
        self._batch: list[dict] = []

    def __enter__(self) -> "RowWriter":
        if self.path and str(self.path).endswith(".parquet"):
            self._open_parquet()
        elif self.path:
            self._file = open(self.path, "w", newline="", encoding="utf-8")
            self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
            self._writer.writeheader()
        return self

    def _open_parquet(self) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise SimError(f"{self.flag}: {self.path} needs pyarrow for Parquet (pip install "
                           f"'accelsim[sweep]'); allowed: a .csv name") from None
        fields = [pa.field(c, pa.int64() if c in INTEGER_COLUMNS else pa.float64())
                  for c in COLUMNS]
        self._schema = pa.schema(fields)
        self._parquet = pq.ParquetWriter(self.path, self._schema)

    def write(self, row: dict) -> None:
        if self._writer is not None:
            self._writer.writerow({k: (f"{v:.9g}" if isinstance(v, float) else v)
                                   for k, v in row.items()})
        elif self._parquet is not None:
            self._batch.append(row)
            if len(self._batch) >= PARQUET_BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._batch:
            import pyarrow as pa
            table = pa.Table.from_pylist(self._batch, schema=self._schema)
            self._parquet.write_table(table)
            self._batch = []

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
        if self._parquet is not None:
            self._flush()
            self._parquet.close()
