"""The serving spec: what traffic arrives, how the scheduler batches it, and the latency SLO.

A spec is a YAML file (or a mapping) with three sections, ``requests``, ``scheduler`` and
``slo``, plus ``step_cost``; every key has a default, so ``{}`` is a valid spec and ``--set
requests.rate=4`` changes one value. Times are read with units (``ttft: 500 ms``) and stored in
ns, the config's canonical time unit. The schema is the single place the keys are declared:
validation, ``simulate serve --help`` and ``docs/serving.md`` follow from it.
"""

from __future__ import annotations

from sim.core.config import Config, Field, Section, apply_overrides, load_yaml_file, validate
from sim.core.errors import ConfigError
from sim.workloads import seqlens

#: the host link a swapped-out KV page crosses: PCIe 5.0 x16, 64 GB/s per direction
#: (PCI-SIG PCIe 5.0 base specification: 32 GT/s x 16 lanes, 128b/130b encoding)
PCIE5_X16_BYTES_PER_S = 64e9

SERVING_SCHEMA = Section("A serving run", {
    "requests": Section("The requests that arrive", {
        "arrival": Field("enum", "poisson", "Arrival process: poisson (exponential gaps at "
                         "`rate`), gamma (gamma gaps of coefficient of variation `cv`: bursts "
                         "for cv > 1), uniform (one request every 1/rate s), burst (all at "
                         "t = 0), trace (the `trace` file's arrival column)",
                         choices=("poisson", "gamma", "uniform", "burst", "trace")),
        "rate": Field("float", 1.0, "Mean arrival rate", unit="requests/s", positive=True),
        "cv": Field("float", 2.0, "gamma: coefficient of variation of the gaps (1 = Poisson)",
                    positive=True),
        "lengths": Field("enum", "sharegpt", "Prompt and output lengths: sharegpt / alpaca "
                         "(log-normal laws of sim/workloads/data/seq_dists.yaml), fixed "
                         "(`prompt_len`, `output_len`), uniform (between the min and max keys), "
                         "trace (the `trace` file's columns)",
                         choices=seqlens.names() + ("fixed", "uniform", "trace")),
        "prompt_len": Field("int", 512, "fixed: prompt tokens of every request", positive=True),
        "output_len": Field("int", 128, "fixed: output tokens of every request (the first "
                            "comes from the prefill)", positive=True),
        "prompt_min": Field("int", 1, "uniform: shortest prompt", unit="tokens", positive=True),
        "prompt_max": Field("int", 1024, "uniform: longest prompt", unit="tokens",
                            positive=True),
        "output_min": Field("int", 1, "uniform: shortest output", unit="tokens", positive=True),
        "output_max": Field("int", 512, "uniform: longest output", unit="tokens",
                            positive=True),
        "max_len": Field("int", None, "Cap on prompt + output tokens of a drawn request; null: "
                         "the model's max_positions", positive=True, nullable=True),
        "trace": Field("str", None, "A CSV (header arrival,prompt_len,output_len) or JSONL "
                       "(objects with those keys) of requests; arrival in seconds, "
                       "non-decreasing", nullable=True),
        "num_requests": Field("int", 1000, "Requests to serve (the first of the trace with "
                              "arrival or lengths `trace`)", positive=True, maximum=2**40),
        "duration": Field("time", None, "Stop arrivals after this time (the run still serves "
                          "what arrived); null: num_requests decides", nullable=True,
                          positive=True),
        "seed": Field("int", 0, "Seed of the arrival and length draws", minimum=0),
    }),
    "scheduler": Section("Continuous batching as vLLM schedules it (prefill first, FCFS)", {
        "max_batch": Field("int", 256, "Requests running at once (vLLM max_num_seqs)",
                           positive=True, source="vLLM default max_num_seqs 256"),
        "max_tokens": Field("int", None, "Prompt tokens one prefill step takes (vLLM "
                            "max_num_batched_tokens); null: max(2048, the longest prompt)",
                            positive=True, nullable=True,
                            source="vLLM default max_num_batched_tokens 2048 without chunking"),
        "chunked_prefill": Field("bool", False, "Split prompts into chunks that share a step "
                                 "with the running requests' decodes, max_tokens per step in "
                                 "all (vLLM enable_chunked_prefill, Sarathi-Serve); false: a "
                                 "step prefills whole prompts or decodes",
                                 source="vLLM enable_chunked_prefill (default off in V0)"),
        "priority": Field("enum", None, "Who takes a step first. decode: with chunked prefill "
                          "the running requests decode in every step and chunks fill the rest "
                          "of max_tokens; without it, waiting prompts are prefilled only when "
                          "no request is running. prefill: a prompt that fits is prefilled "
                          "first (with chunked prefill the running requests decode in the same "
                          "step while their tokens fit beside the chunks). null: decode with "
                          "chunked prefill, prefill without (vLLM's two schedulers)",
                          choices=("prefill", "decode"), nullable=True),
        "block_size": Field("int", 16, "Tokens per KV-cache page", positive=True,
                            source="vLLM default block_size 16"),
        "kv_capacity": Field("int", None, "KV-cache tokens the device holds; null: the tokens "
                             "that fit beside the weights (from the family's capacity check) "
                             "times memory_fraction", positive=True, nullable=True),
        "memory_fraction": Field("float", 0.9, "Share of the memory free beside the weights "
                                 "that holds KV pages (the rest: activations, fragmentation)",
                                 positive=True, maximum=1.0,
                                 source="vLLM gpu_memory_utilization default 0.9"),
        "preemption": Field("enum", "recompute", "When a decode step finds no free page, the "
                            "newest running request is evicted: recompute (pages dropped, its "
                            "prompt and output so far prefilled again) or swap (pages copied "
                            "to host memory over swap_bandwidth and back)",
                            choices=("recompute", "swap")),
        "swap_bandwidth": Field("bandwidth", PCIE5_X16_BYTES_PER_S, "Host link of swapped "
                                "pages, each way", positive=True,
                                source="PCIe 5.0 x16: 32 GT/s x 16 lanes, 128b/130b "
                                "(PCI-SIG base specification 5.0)"),
        "step_overhead": Field("time", 0, "Host time per step outside the device (scheduler, "
                               "input copies, sampling, sync); measure it for the serving stack "
                               "modelled", minimum=0),
        "prefill_launch": Field("time", 0, "Host time to issue an eager (not graph-captured) "
                                "prefill step's kernels; the step takes the longer of this and "
                                "the device time (0: launches hide behind the device)",
                                minimum=0),
        "prefill_launch_per_prompt": Field("time", 0, "Host issue time added per prompt of a "
                                           "prefill step (one attention launch per prompt and "
                                           "layer)", minimum=0),
        "prefill_launch_sigma": Field("float", 0.0, "Spread of the host's issue time from "
                                      "step to step: each prefill step's launch time is the "
                                      "keys above times exp(sigma z), z standard normal "
                                      "(seeded by requests.seed); 0: constant", minimum=0),
    }),
    "kv_link": Section("Disaggregated serving (a decode device of its own): the link that "
                       "carries each request's KV cache from the prefill device", {
        "bandwidth": Field("bandwidth", 50e9, "Bytes per second, one transfer at a time",
                           positive=True,
                           source="InfiniBand NDR, 400 Gb/s per port (NVIDIA ConnectX-7 "
                           "product brief)"),
        "latency": Field("time", 0, "Time added to every transfer (set-up, the software "
                         "stack); 0: bandwidth alone", minimum=0),
        "pj_per_bit": Field("float", 0.0, "Energy of the link per bit moved; 0: not priced "
                            "(give the link's figure)", minimum=0),
    }),
    "slo": Section("The latency objective goodput counts against", {
        "ttft": Field("time", 1e9, "Time to first token a request must meet", positive=True),
        "tpot": Field("time", 5e7, "Mean time per output token (after the first) a request "
                      "must meet", positive=True),
    }),
    "step_cost": Field("enum", "interpolate", "interpolate: simulate steps on a grid of batch "
                       "shapes and interpolate (docs/serving.md gives the error); exact: "
                       "simulate every distinct step", choices=("interpolate", "exact")),
})


def load_serving_spec(source: str | dict | None = None, overrides=(), file: str | None = None
                      ) -> Config:
    """Validate a serving spec (a YAML path, a mapping or None for the defaults) with
    ``overrides`` (``("requests.rate", 4)`` pairs); raise :class:`ConfigError` naming the key."""
    if isinstance(source, str):
        file = source
        raw = load_yaml_file(source)
    else:
        raw = dict(source or {})
    raw = apply_overrides(raw or {}, list(overrides), label="--set ")
    data, problems = validate(raw, SERVING_SCHEMA, file or "serving spec")
    if not problems:
        problems = _rules(Config(data), file or "serving spec")
    if problems:
        raise ConfigError(problems)
    return Config(data)


def _rules(s: Config, label: str) -> list[str]:
    r = s.requests
    out = []
    if (r.arrival == "trace" or r.lengths == "trace") and not r.trace:
        out.append(f"{label}: requests.trace: missing; arrival or lengths 'trace' reads the "
                   f"requests from a CSV or JSONL file named here")
    sch = s.scheduler
    if sch.chunked_prefill and sch.max_tokens is not None and sch.max_tokens < sch.max_batch:
        out.append(f"{label}: scheduler.max_tokens: {sch.max_tokens} is below max_batch "
                   f"{sch.max_batch}; with chunked_prefill every running request's decode "
                   f"counts against it; allowed: max_tokens >= max_batch")
    for lo, hi in (("prompt_min", "prompt_max"), ("output_min", "output_max")):
        if getattr(r, lo) > getattr(r, hi):
            out.append(f"{label}: requests.{lo}: {getattr(r, lo)} is above {hi} "
                       f"{getattr(r, hi)}; allowed: {lo} <= {hi}")
    return out
