"""Read one run of NeuPIMs' simulator and print the figures our analysis uses, as JSON.

    python docs/neupims_reference/extract_stats.py LOG_DIR STDOUT_FILE newton|composite

LOG_DIR is the simulator's --log_dir (``_summary.tsv``, ``dramsim3.json``); STDOUT_FILE its
console output (the core's closing statistics); the last argument the command set of the run
(newton: the npu+pim branch with memory config newton.json; composite: main). The records in
``sim/families/npu_pim/data/neupims_simulator.json`` under ``stats`` were made this way from
the runs that ``build.sh`` builds (docs/npu_pim.md, "NeuPIMs' own simulator").
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

#: DRAM commands counted per channel by NewtonSim (dramsim3.json), summed over the channels
COMMANDS = ("num_comp_cmds", "num_readres_cmds", "num_gwrite_cmds", "num_gact_cmds",
            "num_read_cmds", "num_write_cmds", "num_act_cmds", "num_pre_cmds")
#: G_ACTs per PIM tile: one per bank group of each rank (2 ranks x 4 bank groups)
GACT_PER_TILE = 8
CORE = {"matmul_busy_cycles": r"MatMul cycle (\d+)",
        "matmul_stall_cycles": r"MatMul stall cycle (\d+)",
        "layernorm_cycles": r"LayerNorm cycle (\d+)", "softmax_cycles": r"Softmax cycle (\d+)",
        "systolic_instructions": r"Systolic Inst Issue Count : (\d+)",
        "systolic_preloads": r"Systolic PRELOAD Issue Count : (\d+)"}


def stage_table(log_dir: Path) -> dict:
    rows = (log_dir / "_summary.tsv").read_text().split("\n")[1:]
    out = {}
    for row in rows:
        f = row.split("\t")
        if len(f) >= 4 and f[0]:
            out[f[0]] = {"cycles": int(f[1]), "pim_busy_cycles": int(f[2]),
                         "memory_bandwidth_pct": float(f[3])}
    return out


def command_totals(log_dir: Path) -> dict:
    per_channel = json.loads((log_dir / "dramsim3.json").read_text())
    return {k: sum(int(ch.get(k, 0)) for ch in per_channel.values()) for k in COMMANDS}


def pim_instructions(cmds: dict, newton: bool) -> int:
    """Instructions the NPU sent to the PIM channels: a PIM_HEADER per tile, a GWRITE per
    query chunk, and per head either k COMPs and a READRES (Newton) or one COMPS_READRES
    (counted as a READRES by NewtonSim)."""
    headers = cmds["num_gact_cmds"] // GACT_PER_TILE
    per_head = cmds["num_readres_cmds"] + (cmds["num_comp_cmds"] if newton else 0)
    return headers + cmds["num_gwrite_cmds"] + per_head


def core_stats(stdout: str) -> dict:
    out = {}
    for key, pattern in CORE.items():
        m = re.search(pattern, stdout)
        if m:
            out[key] = int(m.group(1))
    return out


def main(argv: list[str]) -> int:
    log_dir, stdout = Path(argv[0]), Path(argv[1]).read_text(errors="replace")
    cmds = command_totals(log_dir)
    newton = argv[2] == "newton"
    stages = stage_table(log_dir)
    total = sum(s["cycles"] for s in stages.values())
    record = {"stages": stages, "dram_commands": cmds,
              "pim_instructions": pim_instructions(cmds, newton),
              "pim_busy_cycles": sum(s["pim_busy_cycles"] for s in stages.values()),
              "core": core_stats(stdout), "one_layer_cycles": total}
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
