"""Figures of a serving run, drawn from its report (the dict of ``ServeReport.to_dict()``):
latency CDFs with the SLO marked, and batch size and KV-cache occupancy over time."""

from __future__ import annotations

from pathlib import Path

NS = 1e-9


def latency_figure(report: dict):
    """TTFT, TPOT and end-to-end latency CDFs (log time axis), SLOs as dashed lines."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    slo = report["spec"]["slo"]
    marks = {"ttft_s": slo["ttft"] * NS, "tpot_s": slo["tpot"] * NS, "e2e_s": None}
    titles = {"ttft_s": "time to first token", "tpot_s": "time per output token",
              "e2e_s": "end-to-end latency"}
    for ax, name in zip(axes, ("ttft_s", "tpot_s", "e2e_s")):
        cdf = report["distributions"].get(name, {})
        xs = [x for x in cdf.get("x", []) if x > 0]
        ps = cdf.get("p", [])[len(cdf.get("x", [])) - len(xs):]
        if xs:
            ax.step(xs, ps, where="post")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labels on decades only
        if marks[name]:
            ax.axvline(marks[name], ls="--", color="tab:red", label="SLO")
            ax.legend(loc="lower right")
        ax.set_title(titles[name])
        ax.set_xlabel("s")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of requests")
    fig.suptitle(f"{report['model']} on {report['arch_name']}: "
                 f"{report['metrics']['requests']:,} requests")
    fig.tight_layout()
    return fig


def occupancy_figure(report: dict):
    """Running batch, requests in the system and KV-cache occupancy over the run."""
    import matplotlib.pyplot as plt
    s = report["series"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    top.step(s["t_s"], s["batch"], where="post", label="running batch")
    top.step(s["t_s"], s["in_system"], where="post", label="in the system", alpha=0.7)
    top.set_ylabel("requests")
    top.legend(loc="upper right")
    top.grid(alpha=0.3)
    if s["kv_occupancy"]:
        bottom.step(s["t_s"], [100 * k for k in s["kv_occupancy"]], where="post",
                    color="tab:green")
    bottom.set_ylabel("KV cache used (%)")
    bottom.set_ylim(0, 105)
    bottom.set_xlabel("time (s)")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_serving_plots(report: dict, directory: str | Path) -> list[str]:
    """Write ``latency_cdf.png`` and ``occupancy.png`` into ``directory``; their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in (("latency_cdf.png", latency_figure), ("occupancy.png", occupancy_figure)):
        fig = draw(report)
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(str(path))
    return written
