"""Run the real SCALE-Sim v3 (PyPI ``scalesim``) on one GEMM and read its compute cycles.

Used by the slow parity test only. Everything is written under a temporary directory; the
config is SCALE-Sim's default-like one in CALC mode (stall-free), traces off.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

CONFIG = """[general]
run_name = parity

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 64
FilterSramSzkB: 64
OfmapSramSzkB: 64
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Dataflow: {df}
Bandwidth: 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

LAYOUT_HEADER = ("Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,"
                 "Filter Height Intraline Factor,Filter Width Intraline Factor,"
                 "Channel Intraline Factor,Num Filter Intraline Factor,\n")


def scalesim_compute_cycles(dataflow: str, rows: int, cols: int, m: int, n: int, k: int,
                            workdir: Path) -> int:
    """SCALE-Sim's "Total Cycles" (CALC mode: no stalls) for ``m x k @ k x n``."""
    from scalesim.scale_sim import scalesim

    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "scale.cfg"
    cfg.write_text(CONFIG.format(rows=rows, cols=cols, df=dataflow))
    topo = workdir / "gemm.csv"
    topo.write_text(f"Layer, M, N, K,\nparity, {m}, {n}, {k},\n")
    layout = workdir / "layout.csv"
    layout.write_text(LAYOUT_HEADER + "parity, 1, 1, 1, 1, 1, 1,\n")
    out = workdir / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                       layout=str(layout), input_type_gemm=True)
        sim.run_scale(top_path=str(out))
    report = next(out.rglob("COMPUTE_REPORT.csv"))
    with open(report, newline="") as f:
        row = next(csv.DictReader(f, skipinitialspace=True))
    key = next(k for k in row if k.strip() == "Total Cycles")
    return int(float(row[key]))
