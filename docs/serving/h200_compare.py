"""`simulate serve` against a real continuous-batching loop on an H200.

``docs/serving/measure_serving.py`` served the traces in ``docs/serving/traces/`` on an H200 (a
plain PyTorch loop, LLaMA-7B shapes, CUDA graphs per decode batch size) and stored what it saw in
``sim/families/gpu/data/measured/h200_serving.json``. This script:

1. takes the host-side overhead the simulator adds to each step from the *calibration* trace's
   steps only (medians of the measured host times; a least-squares line for the time the host
   needs to issue an eager prefill step against its prompt count);
2. serves each *validation* trace with ``sim.serve`` on ``arch_configs/h200.yaml`` with the loop's
   scheduler limits and that overhead, and prints p50 / p90 TTFT and TPOT beside the measured
   ones (targets: p50 within 15 %, p90 within 25 %);
3. prices the measured steps that carry their request lengths with the simulator's step cost and
   prints the error of the device time per phase (the step-level check under the percentiles).

    python docs/serving/h200_compare.py
    python docs/serving/h200_compare.py --write-traces   # regenerate the CSV traces

The traces come from ``simulate serve``'s own request generator (ShareGPT-like lengths capped at
2,048 tokens, Poisson arrivals); ``--write-traces`` writes them again, bit for bit.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from sim.serving import serve  # noqa: E402
from sim.serving.requests import request_stream  # noqa: E402
from sim.serving.serve import kv_bytes_per_token  # noqa: E402
from sim.serving.spec import load_serving_spec  # noqa: E402
from sim.serving.stepcost import StepCost  # noqa: E402
from sim.simulation.arch import load_arch  # noqa: E402
from sim.simulation.simulate import load_workload  # noqa: E402

TRACES = os.path.join(ROOT, "docs", "serving", "traces")
MEASURED = os.path.join(ROOT, "sim", "families", "gpu", "data", "measured", "h200_serving.json.gz")
#: name: (rate requests/s, requests, seed); the calibration trace sets the host overhead only
TRACE_SPECS = {"calibration_rate8": (8.0, 300, 99), "rate4": (4.0, 240, 11),
               "rate10": (10.0, 600, 12), "rate16": (16.0, 800, 13)}
MAX_LEN = 2048
ARCH = os.path.join(ROOT, "arch_configs", "h200.yaml")
CALIBRATION = "calibration_rate8.csv"
US = 1e-6
PROFILE = os.path.join(ROOT, "sim", "families", "gpu", "data", "measured",
                       "h200_serving_profile.json")
#: slack (us) by which a decode step's start may follow the previous step's end and still count
#: as back to back (no idle wait for arrivals in between); the loop's bookkeeping is ~0.1 ms
BACK_TO_BACK_SLACK_US = 2000


def write_traces() -> None:
    """The CSV traces from the request generator (Poisson arrivals, ShareGPT-like lengths)."""
    os.makedirs(TRACES, exist_ok=True)
    for name, (rate, n, seed) in TRACE_SPECS.items():
        spec = load_serving_spec({}, [("requests.rate", rate), ("requests.num_requests", n),
                                      ("requests.seed", seed), ("requests.max_len", MAX_LEN)])
        with open(os.path.join(TRACES, name + ".csv"), "w") as fh:
            fh.write("arrival,prompt_len,output_len\n")
            for chunk in request_stream(spec, MAX_LEN):
                for a, p, o in zip(chunk.arrival, chunk.prompt, chunk.output):
                    fh.write(f"{a:.6f},{int(p)},{int(o)}\n")
        print("wrote", os.path.join(TRACES, name + ".csv"))


def load_measured(path: str = MEASURED) -> dict:
    with gzip.open(path, "rt") as fh:
        return json.load(fh)


def host_overhead(runs: list[dict]) -> dict:
    """The host-side step overhead in the simulator's scheduler keys, from the calibration runs
    of the loop pooled (measurements only, no fit to latencies):

    - ``step_overhead``: median, over the decode steps that ran back to back, of the time from
      one step's start to the next beyond the GPU time of the step (scheduling, input copies,
      graph launch, sync, bookkeeping);
    - ``prefill_launch_per_prompt``: median over the multi-prompt prefill steps of the host
      issue time beyond the single-prompt median, per extra prompt (0 if none ran);
    - ``prefill_launch``: the single-prompt median issue time less one prompt's share;
    - ``prefill_launch_sigma``: the spread of the single-prompt issue times, (ln p84 - ln p16)
      / 2 (the standard deviation of the log where the times are log-normal).
    """
    over, one, many_t, many_n = [], [], [], []
    for run in runs:
        s = run["steps"]
        phase = np.array(list(s["phase"]))
        t = np.asarray(s["t_us"], dtype=float)
        busy = np.asarray(s["host_us"]) + np.asarray(s["issue_us"]) + np.asarray(s["wait_us"])
        gpu = np.asarray(s["gpu_us"], dtype=float)
        interval = np.diff(t)
        back_to_back = (interval < busy[:-1] + BACK_TO_BACK_SLACK_US) & (phase[:-1] == "d")
        over.append(interval[back_to_back] - gpu[:-1][back_to_back])
        n = np.asarray(s["n"])
        issue = np.asarray(s["issue_us"], dtype=float) * US
        one.append(issue[(phase == "p") & (n == 1)])
        many_t.append(issue[(phase == "p") & (n > 1)])
        many_n.append(n[(phase == "p") & (n > 1)])
    one, many_t, many_n = (np.concatenate(x) for x in (one, many_t, many_n))
    single = float(np.median(one))
    per_prompt = max(0.0, float(np.median((many_t - single) / (many_n - 1)))) \
        if len(many_n) else 0.0
    sigma = float(np.log(np.percentile(one, 84.13) / np.percentile(one, 15.87)) / 2)
    return {"step_overhead": float(np.median(np.concatenate(over))) * US,
            "prefill_launch": single - per_prompt, "prefill_launch_per_prompt": per_prompt,
            "prefill_launch_sigma": sigma}


def calibration_runs(data: dict) -> list[dict]:
    return [r for r in data["runs"] if r["trace"] == CALIBRATION]


def validation_runs(data: dict) -> list[dict]:
    return [r for r in data["runs"] if r["trace"] != CALIBRATION]


def attention_bandwidth(profile: str = PROFILE) -> float:
    """KV bytes per second the loop's decode-attention kernel streams in its most saturated
    profiled step (``profile_steps.py``: the kernel's GPU time summed over the 32 layers)."""
    with open(profile) as fh:
        data = json.load(fh)
    per_token = kv_bytes_per_token(load_workload("llama7b_decode"))  # K and V, all layers
    best = 0.0
    for r in data["decode"]:
        t = sum(v[1] for name, v in r["kernels"].items() if "decode_attention" in name)
        kv = r["batch"] * (r["context"] + 1) * per_token
        best = max(best, kv / t)
    return best


def measured_latencies(run: dict) -> dict:
    q = run["requests"]
    arrival, first, finish = (np.asarray(q[k], dtype=float)
                              for k in ("arrival", "first_token", "finish"))
    out = np.asarray(q["output_len"])
    many = out > 1
    return {"ttft": first - arrival, "tpot": (finish - first)[many] / (out[many] - 1)}


def simulated(run: dict, host: dict, meta: dict):
    """``sim.serve`` of the run's trace with the loop's limits and the measured overhead."""
    overrides = [f"scheduler.{k}={v * 1e9:.1f} ns" for k, v in host.items()
                 if k != "prefill_launch_sigma"]
    overrides.append(f"scheduler.prefill_launch_sigma={host['prefill_launch_sigma']:.6g}")
    overrides.append(f"attention.decode_bandwidth={attention_bandwidth():.6g}")
    spec = {"requests": {"arrival": "trace", "lengths": "trace",
                         "trace": os.path.join(TRACES, run["trace"]),
                         "num_requests": len(run["requests"]["arrival"])},
            "scheduler": {"max_batch": meta["max_batch"], "max_tokens": meta["max_tokens"]}}
    return serve(ARCH, "llama7b", spec, overrides=overrides)


def step_errors(data: dict) -> list[tuple[str, list[float]]]:
    """Device time of the measured decode steps that carry their lengths against the
    simulator's exact step cost: relative errors per run (the GPU time between the loop's
    events also holds the step's input copies, tens of microseconds)."""
    arch = load_arch(ARCH, [("attention.decode_bandwidth", attention_bandwidth())])
    cost = StepCost(arch, load_workload("llama7b_decode"), "exact")
    out = []
    for run in data["runs"]:
        s = run["steps"]
        errs = [cost.exact("decode", tuple(n - 1 for n in lens)).seconds
                / (s["gpu_us"][int(i)] * US) - 1
                for i, lens in run["step_lens"].items() if s["phase"][int(i)] == "d"]
        out.append((run["trace"], errs))
    return out


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def compare(data: dict) -> list[dict]:
    """One row per validation trace and metric: measured and simulated p50 / p90."""
    rows = []
    host = host_overhead(calibration_runs(data))
    for run in validation_runs(data):
        measured = measured_latencies(run)
        report = simulated(run, host, data["meta"])
        for metric in ("ttft", "tpot"):
            sim = report.metrics[f"{metric}_s"]
            for q in (50, 90):
                m = percentile(measured[metric], q)
                s = sim[f"p{q}"]
                rows.append({"trace": run["trace"], "metric": metric, "q": q,
                             "measured_s": m, "simulated_s": s, "error": s / m - 1})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-traces", action="store_true")
    ap.add_argument("--steps", action="store_true", help="also the step-level decode errors")
    ap.add_argument("--measured", default=MEASURED, help="the loop's stored measurement")
    args = ap.parse_args(argv)
    if args.write_traces:
        write_traces()
        return 0
    data = load_measured(args.measured)
    print(f"decode attention kernel (measured): {attention_bandwidth() / 1e12:.2f} TB/s")
    host = host_overhead(calibration_runs(data))
    print("host overhead (calibration runs, measured): " + ", ".join(
        f"{k} {v * 1e3:.3f} ms" if k != "prefill_launch_sigma" else f"{k} {v:.3f}"
        for k, v in host.items()))
    print(f"{'trace':14} {'metric':6} {'q':>3} {'measured':>11} {'simulated':>11} {'error':>8}")
    for r in compare(data):
        limit = 0.15 if r["q"] == 50 else 0.25
        print(f"{r['trace'][:-4]:14} {r['metric']:6} p{r['q']:<2} {r['measured_s'] * 1e3:8.2f} ms"
              f" {r['simulated_s'] * 1e3:8.2f} ms {r['error']:+8.1%}"
              f"  {'pass' if abs(r['error']) <= limit else 'MISS'}")
    if args.steps:
        for trace, errs in step_errors(data):
            print(f"decode steps {trace[:-4]:18} {len(errs):4d}: median {np.median(errs):+.1%}, "
                  f"p10 {percentile(errs, 10):+.1%}, p90 {percentile(errs, 90):+.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
