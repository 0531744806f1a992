"""Writes the notebooks in this folder from the cell sources below, and executes them so the
stored copies carry their outputs:

    python docs/notebooks/build.py            # write and execute (full settings, ~2 min)
    python docs/notebooks/build.py --no-run   # write only

Edit the cells here, not in the .ipynb files. The tests execute the stored notebooks with
ACCELSIM_NOTEBOOK_QUICK=1 (smaller grids) in a scratch folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

SETUP = '''import os
QUICK = os.environ.get("ACCELSIM_NOTEBOOK_QUICK") == "1"  # the test suite runs small settings
import matplotlib.pyplot as plt
import pandas as pd
pd.set_option("display.width", 140)
pd.set_option("display.max_columns", 12)'''

TOUR = [
    ("md", """# A tour of one design: LLaMA-7B decode on a TPU-like NPU

This notebook walks through one simulation with the Python API: load a bundled architecture,
run one decode step of LLaMA-7B, and find where the cycles, joules and mm² go. The design is
`arch_configs/systolic.yaml`, a TPUv3-core-like NPU: one 128x128 bf16 weight-stationary array,
24 MiB of SRAM, a 1024-lane vector unit and 16 channels of HBM2 (512 GB/s)."""),
    ("code", SETUP),
    ("code", '''from sim import load_arch, load_workload, simulate

arch = load_arch("systolic")             # a bundled config by name, or a path to any YAML
workload = load_workload("llama7b_decode", arch, ["workload.context_len=1024"])
print(arch.name, "| kind", arch.kind, "|", arch.cfg.array.rows, "x", arch.cfg.array.cols, arch.cfg.array.dataflow)
print(workload.name, "|", len(workload.ops), "ops |", workload.model.cfg.layers, "layers")'''),
    ("code", '''report = simulate(arch, workload)
print(report.summary(top=6))'''),
    ("md", """## Where the time goes

Every op is one row of `report.to_dataframe()` (pandas), with its cycles, stalls, MACs, bytes
per memory level, energy by component and the mapping the family chose."""),
    ("code", '''ops = report.to_dataframe()
by_role = ops.groupby("role")[["cycles", "macs", "bytes_dram_read", "energy_joules"]].sum()
by_role["share_of_time"] = by_role["cycles"] / report.cycles
by_role.sort_values("cycles", ascending=False)'''),
    ("code", '''q = ops[ops.name == "q_proj"].iloc[0]
print(q["shape"], "|", q["mapping"])
print(f"utilisation {q.utilization:.2%}, {q.cycles / q.roofline_cycles:.1f}x its roofline bound")'''),
    ("md", """A weight-stationary array loads a new 128x128 weight tile for every fold; in decode each
tile meets one activation row, so the array spends its time loading weights, not multiplying,
and the HBM is far from saturated. An output-stationary array streams the weights through
instead; it is faster, yet still compute-bound, because a GEMV keeps one row of its PEs busy:"""),
    ("code", '''os_arch = load_arch("systolic", ["array.dataflow=os", "array.stationary_preload=serial"])
os_report = simulate(os_arch, workload)
for name, r in (("ws", report), ("os", os_report)):
    print(f"{name}: {r.tokens_per_second:7.1f} tokens/s  {r.energy_joules:.3f} J/token  "
          f"DRAM bandwidth used {r.dram['bandwidth_utilization']:.0%}")'''),
    ("md", "## Energy and area by component"),
    ("code", '''fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
energy = pd.Series(os_report.energy_breakdown).sort_values()
energy.plot.barh(ax=axes[0], title="energy per token (J)")
area = pd.Series({k: v["mm2"] for k, v in os_report.area_breakdown.items()}).sort_values()
area.plot.barh(ax=axes[1], title=f"area (mm², total {os_report.area_mm2:.1f})")
fig.tight_layout()'''),
    ("md", """Each area item says what priced it (a cost-table entry with its source), so a number can be
traced back to a paper or datasheet:"""),
    ("code", '''for name, item in os_report.area_breakdown.items():
    print(f"{name:12s} {item['mm2']:7.2f} mm²  {item['detail']}  <- {', '.join(item['priced_by'])}")'''),
    ("md", "## Context length: when does attention matter?"),
    ("code", '''contexts = [256, 2048] if QUICK else [256, 512, 1024, 2048, 4096]
rows = []
for ctx in contexts:
    r = simulate(os_arch, "llama7b_decode", [f"workload.context_len={ctx}"])
    att = sum(o.cycles for o in r.ops if o.role == "attention")
    rows.append({"context": ctx, "tokens/s": r.tokens_per_second, "attention share": att / r.cycles,
                 "J/token": r.energy_joules / r.tokens})
pd.DataFrame(rows).set_index("context")'''),
    ("md", """## Next steps
* `simulate --arch arch_configs/systolic.yaml --workload llama7b_decode --json out.json --plot out/
  --trace-events trace.json` writes the same report as JSON, plots, and a Perfetto trace.
* `02_systolic_dse.ipynb` sweeps this design's array size, SRAM and dataflow and finds the Pareto front.
* `03_lut_vs_mac_tc.ipynb` compares LUT tensor cores with MAC tensor cores across weight bit widths."""),
]

DSE = [
    ("md", """# Design-space exploration of a systolic NPU

Sweep array size x SRAM x dataflow of the TPU-like NPU on LLaMA-7B decode, drop designs over an
area budget, and keep the Pareto front of throughput, area and energy. `sim.sweep` takes the same
spec as `simulate sweep spec.yaml` (see `docs/sweeps.md`): it runs points in parallel, streams
them to `results/`, and resumes where it stopped if run again."""),
    ("code", SETUP),
    ("code", '''from sim import sweep, pareto_front
from sim.sweeps.dse import plot_pareto, plot_metric_vs_param, plot_energy_breakdown

sides = [64, 128] if QUICK else [32, 64, 128, 256, 512]
spec = {
    "name": "systolic_dse",
    "arch": "systolic",
    "workload": "llama7b_decode",
    "set": {"workload.context_len": 1024, "workload.batch": 4},
    "grid": {
        "array.rows": sides,
        "array.cols": sides,
        "sram.ifmap": ["4 MiB", "16 MiB"] if QUICK else ["2 MiB", "8 MiB", "32 MiB"],
    },
    "zip": [{  # output stationary has nothing to preload, so its preload is serial
        "array.dataflow": ["os", "ws", "is"],
        "array.stationary_preload": ["serial", "double_buffered", "double_buffered"],
    }],
    "constraints": ["area_mm2 <= 60"],       # an area budget: points over it are not run
    "pareto": {"tokens_per_second": "max", "area_mm2": "min", "joules_per_token": "min"},
}
result = sweep(spec, out="results/systolic_dse", workers=1 if QUICK else 2, progress=False)
print(result.counts)'''),
    ("code", '''df = result.to_dataframe()
df[["array.rows", "array.cols", "sram.ifmap", "array.dataflow", "tokens_per_second",
    "joules_per_token", "area_mm2", "util.array"]].sort_values("tokens_per_second", ascending=False).head(8)'''),
    ("md", "## The Pareto front (throughput vs area vs energy per token)"),
    ("code", '''front = pareto_front(df[df.status == "ok"], spec["pareto"])
front[["array.rows", "array.cols", "sram.ifmap", "array.dataflow", "tokens_per_second",
       "area_mm2", "joules_per_token"]]'''),
    ("code", '''fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
plot_pareto(result.ok(), "area_mm2", "tokens_per_second", color="array.dataflow", ax=axes[0],
            objectives={"area_mm2": "min", "tokens_per_second": "max"})
plot_pareto(result.ok(), "joules_per_token", "tokens_per_second", color="array.dataflow", ax=axes[1],
            objectives={"joules_per_token": "min", "tokens_per_second": "max"})
fig.tight_layout()'''),
    ("md", """## How each parameter moves the result

Decode is a chain of GEMVs: the weight-stationary and input-stationary arrays reload a weight
tile per fold, so their throughput follows the array's width, while output stationary streams
weights and stays on the memory roofline."""),
    ("code", '''fig, axes = plt.subplots(1, 2, figsize=(12, 4))
plot_metric_vs_param(result.ok(), "array.cols", "tokens_per_second", by="array.dataflow", ax=axes[0], logx=True)
plot_metric_vs_param(result.ok(), "array.cols", "area_mm2", by="sram.ifmap", ax=axes[1], logx=True)
fig.tight_layout()'''),
    ("md", "## Energy per token of the front's designs, by component"),
    ("code", '''ax = plot_energy_breakdown([r for r in result.ok() if r["key"] in set(front["key"])],
                           ["array.rows", "array.cols", "array.dataflow"])
ax.figure.tight_layout()'''),
    ("md", """Running the cell with `sweep(...)` again returns at once: every point is already in
`results/systolic_dse/points.jsonl`, keyed by a hash of its resolved config and the simulator
version. `results/systolic_dse/results.csv` and `results.parquet` hold the table."""),
]

LUT = [
    ("md", """# LUT tensor cores vs MAC tensor cores across weight bit widths

The LUT Tensor Core (Mo et al., ISCA'25) replaces multipliers with table lookups for low-bit
weights: one pass per weight bit, so its cost falls with the bit width, while a MAC tensor core
dequantises narrow weights to its own format and runs at one speed. This notebook sweeps
`workload.weight_bits` on the A100-LUT-4X design (`lut_tc.yaml`) and on the A100's FP16 and INT8
tensor cores (`mac_tc_a100_fp16.yaml`, `mac_tc_a100_int8.yaml`), for LLaMA-7B decode and prefill.
The LUT Tensor Core is specified for INT1-4 weights (the paper's Table 3), so the sweep stops at 4
bits. `docs/lut_tc.md` compares the family with the paper's own figures."""),
    ("code", SETUP),
    ("code", '''from sim import sweep
from sim.sweeps.dse import plot_metric_vs_param

spec = {
    "name": "lut_vs_mac",
    "arch": "lut_tc",
    "workload": "llama7b_decode",
    "set": {"workload.prompt_len": 128 if QUICK else 512},
    "grid": {
        "arch": ["lut_tc", "mac_tc_a100_fp16", "mac_tc_a100_int8"],
        "workload": ["llama7b_decode"] if QUICK else ["llama7b_decode", "llama7b_prefill"],
        "workload.weight_bits": [2, 4] if QUICK else [1, 2, 4],
    },
}
result = sweep(spec, out="results/lut_vs_mac", workers=1 if QUICK else 2, progress=False)
df = result.to_dataframe()
df["design"] = df["arch_name"]
print(result.counts)'''),
    ("code", '''table = df.pivot_table(index=["workload", "workload.weight_bits"], columns="design",
                       values="tokens_per_second")
table.round(1)'''),
    ("code", '''speedup = table.div(table["a100_fp16_tc"], axis=0)
speedup.round(2)  # tokens/s relative to the FP16 MAC tensor core'''),
    ("code", '''per_mm2 = df.assign(tps_per_mm2=df.tokens_per_second / df.area_mm2)
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
decode = per_mm2[per_mm2.workload == "llama7b_decode"].to_dict("records")
plot_metric_vs_param(decode, "workload.weight_bits", "tokens_per_second", by="design", ax=axes[0])
plot_metric_vs_param(decode, "workload.weight_bits", "joules_per_token", by="design", ax=axes[1])
plot_metric_vs_param(decode, "workload.weight_bits", "tps_per_mm2", by="design", ax=axes[2])
for ax in axes:
    ax.set_title("LLaMA-7B decode")
fig.tight_layout()'''),
    ("md", """## Where the MAC tensor core loses time

With narrow weights, decode is bound by weight bytes on every design, but the MAC tensor core
first dequantises every weight on the CUDA cores. The per-op rows show it on `q_proj`:"""),
    ("code", '''from sim import simulate
for arch in ("lut_tc", "mac_tc_a100_fp16"):
    r = simulate(arch, "llama7b_decode", ["workload.weight_bits=2"])
    q = next(o for o in r.ops if o.name == "q_proj")
    print(f"{r.arch_name:14s} q_proj {q.cycles:7d} cycles, {q.utilization:5.1%} of peak | {q.mapping[:90]}")'''),
    ("md", """Area is the other half of the trade: `area.*` columns break each design down by component."""),
    ("code", '''area_cols = [c for c in df.columns if c.startswith("area.")]
df.groupby("design")[area_cols + ["area_mm2"]].first().T.round(1)'''),
]

SERVING = [
    ("md", """# Serving LLaMA-7B traffic: H100, LUT Tensor Core and NeuPIMs

The same stream of requests (ShareGPT-like prompt and output lengths, Poisson arrivals, one seed)
is served by three designs at several arrival rates: the H100 GPU (`kind: gpu`), the LUT Tensor
Core GPU (`kind: lut_tc`, LLaMA-7B at its native low-bit weights) and NeuPIMs (`kind: npu_pim`,
decode attention in the HBM's PIM channels). The scheduler is vLLM's continuous batching over a
paged KV cache sized from each device's memory; every step is priced by the family's own
simulation of the batch it formed (docs/serving.md). The SLO is an interactive one: first token
within 1 s, then at most 20 ms per token (50 tokens/s per user). The designs are compared on the
share of requests that meet it, goodput (those requests per second) and joules per request."""),
    ("code", SETUP),
    ("code", '''from sim import serve

DESIGNS = {"H100": "h100", "LUT Tensor Core": "lut_tc", "NeuPIMs": "neupims"}
RATES = [4] if QUICK else [1, 2, 4, 8, 16]
spec = {"requests": {"num_requests": 20 if QUICK else 200, "lengths": "sharegpt", "seed": 7},
        "slo": {"ttft": "1 s", "tpot": "20 ms"}}
rows, costs = [], {}  # costs: each design's simulated steps, shared by its rates
for label, arch in DESIGNS.items():
    for rate in RATES:
        r = serve(arch, "llama7b", spec, [f"requests.rate={rate}"], costs=costs)
        m = r.metrics
        rows.append({"design": label, "rate": rate, "served_rps": m["requests_per_s"],
                     "slo_met": m["slo_attainment"], "goodput_rps": m["goodput_rps"],
                     "ttft_p90_ms": m["ttft_s"]["p90"] * 1e3,
                     "tpot_p90_ms": m["tpot_s"]["p90"] * 1e3, "mean_batch": m["mean_batch"],
                     "J_per_request": m["energy_per_request_j"], "kv_tokens": r.kv_capacity_tokens})
df = pd.DataFrame(rows)
df.round(3)'''),
    ("md", """`served_rps` is requests over the run's whole length (the last requests' drain
included, so it stays below the arrival rate for a stream of a few hundred requests); `slo_met`
is the share of requests within both limits and `goodput_rps` = `served_rps` x `slo_met`."""),
    ("code", '''fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for label, part in df.groupby("design", sort=False):
    left.plot(part.rate, 100 * part.slo_met, marker="o", label=label)
    right.plot(part.rate, part.J_per_request, marker="o", label=label)
left.set(xscale="log", xlabel="arrival rate (requests/s)", ylim=(0, 105),
         ylabel="requests within the SLO (%)", title="TTFT <= 1 s and TPOT <= 20 ms")
right.set(xscale="log", yscale="log", xlabel="arrival rate (requests/s)",
          ylabel="joules per request", title="Energy per request")
left.legend(); right.legend()
fig.tight_layout()'''),
    ("code", '''for label, part in df.groupby("design", sort=False):
    ok = part[part.slo_met >= 0.9]
    if ok.empty:
        print(f"{label}: no rate keeps 90 % of requests within the SLO")
        continue
    best = ok.loc[ok.rate.idxmax()]
    print(f"{label}: up to {best.rate:g} requests/s with {best.slo_met:.0%} within the SLO, "
          f"{best.J_per_request:.1f} J per request, TPOT p90 {best.tpot_p90_ms:.1f} ms")'''),
    ("md", """Energy per request falls with the rate while a device is underused (its static and
idle power are shared by more requests) and flattens as batches fill. TPOT grows with the batch:
a decode step streams the weights once for the whole batch but every request's KV cache, so a
design whose step time climbs past 20 ms loses requests to the TPOT limit before its queue grows.
The KV column is the cache each device holds beside the weights, which bounds its batch.

Each `serve` call takes seconds on the GPUs; NeuPIMs' steps are slower to simulate (each step's
PIM command stream is timed), which is why the calls share `costs`: a design's simulated steps
are reused across rates, with identical results."""),
]

NOTEBOOKS = {"01_tour_llama7b_decode.ipynb": TOUR, "02_systolic_dse.ipynb": DSE,
             "03_lut_vs_mac_tc.ipynb": LUT, "04_serving.ipynb": SERVING}


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    return nb


def execute(path: Path, cwd: Path, quick: bool = False, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a stored notebook in ``cwd``; raises on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("ACCELSIM_NOTEBOOK_QUICK")
    os.environ["ACCELSIM_NOTEBOOK_QUICK"] = "1" if quick else "0"
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("ACCELSIM_NOTEBOOK_QUICK")
        else:
            os.environ["ACCELSIM_NOTEBOOK_QUICK"] = env_before
    return nb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-run", action="store_true", help="write the notebooks without outputs")
    args = ap.parse_args()
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        nbformat.write(build(cells), path)
        if not args.no_run:
            nb = execute(path, HERE)
            for cell in nb.cells:  # execution metadata carries timestamps; keep files stable
                cell.get("metadata", {}).pop("execution", None)
            nbformat.write(nb, path)
        print("wrote", path.relative_to(HERE.parent.parent))


if __name__ == "__main__":
    main()
