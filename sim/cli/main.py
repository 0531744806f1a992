"""The ``simulate`` command.

    simulate --arch arch_configs/systolic.yaml --workload llama7b_decode
    simulate --arch A.yaml --workload llama7b_prefill --set workload.prompt_len=2048 \\
             --json out.json --csv ops.csv --plot out/ --trace-events trace.json
    simulate --describe systolic
    simulate --list
    simulate sweep docs/sweeps/systolic_dse.yaml --out results/ [--workers 2] [--scheduler local]
    simulate trace-extract --model llama --config traces/configs/llama7b.json --phase decode \
             --batch 1 --context 128 --out traces/llama7b_decode.jsonl.gz
    simulate serve --arch lut_tc --model llama7b --requests docs/serving/sharegpt.yaml \
             --num-requests 1000 --json serve.json --requests-csv requests.csv

User mistakes print one line per problem (``error: file: key: ...``) and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.core.config.safe_input import is_dir, show_path
from sim.core.errors import SimError
from sim.core.invariants import InvariantError

EXIT_INVARIANT = 3  # a report broke an invariant: a simulator bug (sim/core/invariants.py)
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (``error: simulate: ...``, exit 2) instead of the usage
    block followed by the message."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="simulate",
        description="Cycle-level simulation of an LLM workload on an accelerator design.",
        epilog="subcommands: 'simulate sweep SPEC' runs a sweep spec (simulate sweep --help); "
               "'simulate serve' serves a stream of requests (simulate serve --help); "
               "'simulate trace-extract' records a transformers model's ops "
               "(simulate trace-extract --help)")
    p.add_argument("--arch", help="architecture YAML (kind: picks the family)")
    p.add_argument("--workload", help="named workload (e.g. llama7b_decode) or a workload YAML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: array.rows=256, workload.batch=8 (repeatable)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--csv", metavar="FILE", help="write per-op rows as CSV")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--trace-events", metavar="FILE",
                   help="write a Chrome/Perfetto trace of unit occupancy")
    p.add_argument("--top", type=_count_arg, default=10,
                   help="ops to list in the summary (default 10; 0 lists none)")
    p.add_argument("--quiet", action="store_true", help="print no summary")
    p.add_argument("--no-check", action="store_true",
                   help="skip the invariant check of the report (MACs, bytes, bounds, sums; "
                        "see docs/hardening.md)")
    p.add_argument("--describe", metavar="KIND", help="list every config field of a family")
    p.add_argument("--list", action="store_true", help="list families, workloads and models")
    p.add_argument("--version", action="store_true", help="print the simulator version")
    return p


def _count_arg(text: str) -> int:
    """An argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_arg(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = _count_arg(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_sweep_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="simulate sweep",
        description="Run a sweep spec (YAML) over arch/workload overrides; results stream to "
                    "OUT/points.jsonl and OUT/results.csv (+ .parquet); rerun to resume.")
    p.add_argument("spec", help="sweep spec YAML (see docs/sweeps.md)")
    p.add_argument("--out", help="results directory (default: sweeps/<spec name>)")
    p.add_argument("--workers", type=_positive_arg, default=2,
                   help="worker processes (default 2; 1 runs inline)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run on dask.distributed: 'local' starts a LocalCluster of --workers "
                        "processes, or a scheduler address such as tcp://host:8786")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="add a fixed override to every point (repeatable)")
    p.add_argument("--retry-failed", action="store_true", help="run again points that failed")
    p.add_argument("--dry-run", action="store_true",
                   help="list the points (after constraints) and run nothing")
    p.add_argument("--plot", action="store_true",
                   help="write pareto.png (spec's pareto: objectives) into the results directory")
    p.add_argument("--reports", action="store_true",
                   help="also write each point's full report (as --json) to OUT/reports/KEY.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def build_trace_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="simulate trace-extract",
        description="Record the ops of a Hugging Face transformers model (built from a config, "
                    "no weights downloaded) into a trace replayable with --workload FILE.jsonl")
    p.add_argument("--model", required=True, help="transformers model_type: llama, mistral, "
                   "mixtral, qwen2, opt, gpt2, ...")
    p.add_argument("--config", required=True, help="a config.json of the model (HF format)")
    p.add_argument("--phase", choices=("decode", "prefill"), default="decode")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--context", type=int, default=128, help="decode: tokens already cached")
    p.add_argument("--prompt", type=int, default=128, help="prefill: prompt tokens")
    p.add_argument("--dtype", default="bfloat16", help="model dtype (default bfloat16)")
    p.add_argument("--device", choices=("meta", "cpu"), default=None,
                   help="meta: shapes only (default for dense models); cpu: seeded random "
                        "weights (default for mixture-of-experts, whose routing needs values)")
    p.add_argument("--out", required=True, help="trace file (.jsonl, or .jsonl.gz compressed)")
    return p


def build_serve_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="simulate serve",
        description="Serve a stream of requests with continuous batching and a paged KV cache "
                    "on one simulated device; report TTFT, TPOT, goodput and joules per request "
                    "(docs/serving.md).")
    p.add_argument("--arch", required=True, help="architecture YAML or bundled name")
    p.add_argument("--model", required=True,
                   help="model id (llama7b), named workload or workload YAML (its precisions "
                        "and tensor_parallel apply)")
    p.add_argument("--requests", metavar="SPEC",
                   help="serving spec YAML (requests:, scheduler:, slo:); default: the schema's "
                        "defaults (ShareGPT-like lengths, Poisson at 1 request/s)")
    p.add_argument("--decode-arch", metavar="ARCH",
                   help="disaggregated serving: --arch prefills, this device decodes; each "
                        "request's KV cache crosses the spec's kv_link")
    p.add_argument("--num-requests", type=_positive_arg, help="requests to serve")
    p.add_argument("--duration", metavar="TIME", help="stop arrivals after this time (60 s)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="requests.rate=4, scheduler.max_batch=64, slo.ttft='500 ms', arch keys "
                        "(array.rows=256) or workload.* keys (repeatable)")
    p.add_argument("--json", metavar="FILE", help="write the report (metrics, series) as JSON")
    p.add_argument("--request-rows", "--requests-csv", dest="requests_csv", metavar="FILE",
                   help="stream one row per finished request into FILE: CSV, or Parquet for a "
                        ".parquet name (needs pyarrow: pip install 'accelsim[sweep]')")
    p.add_argument("--plot", metavar="DIR",
                   help="write latency_cdf.png and occupancy.png into DIR")
    p.add_argument("--trace-events", metavar="FILE",
                   help="stream a Perfetto / Chrome trace: the steps on a device track, each "
                        "request as a span (queued + prefill, decoding)")
    p.add_argument("--quiet", action="store_true", help="print no summary")
    return p


SUBCOMMANDS = {"sweep": (build_sweep_parser, lambda args: _sweep(args)),
               "serve": (build_serve_parser, lambda args: _serve(args)),
               "trace-extract": (build_trace_parser, lambda args: _trace_extract(args))}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    sub = SUBCOMMANDS.get(argv[0]) if argv else None
    parser = sub[0]() if sub else build_parser()
    args = parser.parse_args(argv[1:] if sub else argv)
    try:
        return sub[1](args) if sub else _run(args, parser)
    except SimError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped reading: not an error
        _silence_stdout()
        return 0
    except OSError as exc:  # a path or disk problem the checks above did not name
        where = f"{show_path(exc.filename)}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("error: out of memory; allowed: smaller sizes (see docs/hardening.md for the "
              "work limits)", file=sys.stderr)
        return EXIT_USER_ERROR
    except InvariantError as exc:  # a simulator bug, not a user mistake
        print(str(exc), file=sys.stderr)
        print("please report it with the command line and the input hash", file=sys.stderr)
        return EXIT_INVARIANT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit flush does not fail on the closed pipe."""
    import os
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _run(args, parser) -> int:
    from sim.core.version import __version__
    if args.version:
        print(__version__)
        return 0
    if args.describe:
        from sim.output.config_reference import describe_family
        print(describe_family(args.describe))
        return 0
    if args.list:
        from sim.output.config_reference import list_everything
        print(list_everything())
        return 0
    if not args.arch or not args.workload:
        raise SimError("--arch and --workload are required (or use --describe KIND / --list); "
                       "e.g. simulate --arch arch_configs/systolic.yaml --workload llama7b_decode")
    from sim.simulation.arch import load_arch, split_overrides
    from sim.simulation.simulate import load_workload, simulate
    arch_over, work_over = split_overrides(args.overrides, refuse_repeats=True)
    arch = load_arch(args.arch, arch_over)
    workload = load_workload(args.workload, arch, work_over)
    for line in workload.warnings:
        print(f"warning: {line}", file=sys.stderr)
    report = simulate(arch, workload, check=not args.no_check)
    if not args.quiet:
        print(report.summary(top=args.top))
    _write_outputs(report, args)
    return 0


def _sweep(args) -> int:
    from sim.sweeps.runner import resolve_points, check_axis_keys, sweep
    from sim.sweeps.spec import load_sweep
    spec = load_sweep(args.spec, args.overrides)
    if args.dry_run:
        points = spec.points()
        check_axis_keys(spec, points)
        resolved, dropped = resolve_points(spec, points)
        for point, task, error in resolved:
            status = error if error else task.key
            print(f"{point.index:6d}  {_params(point.params)}  {status}")
        print(f"{len(resolved)} points to run, {len(dropped)} dropped by constraints "
              f"(of {spec.size()})")
        return 0
    out = Path(args.out or Path("sweeps") / spec.name)
    result = sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                   progress=not args.no_progress, retry_failed=args.retry_failed,
                   reports=args.reports)
    c = result.counts
    print(f"{spec.name}: {c['ok']} ok, {c['error']} failed, {c['invalid']} invalid, "
          f"{c['dropped']} dropped by constraints, of {c['points']} points -> {out}/results.csv")
    for row in [r for r in result.rows if r["status"] in ("error", "invalid")][:5]:
        print(f"  point {row['point']} ({_params(row)}): {row['error']}", file=sys.stderr)
    if spec.pareto:
        from sim.sweeps.dse import pareto_front
        front = pareto_front(result.ok(), spec.pareto) if result.ok() else []
        print(f"Pareto front over {', '.join(f'{k} ({v})' for k, v in spec.pareto.items())}: "
              f"{len(front)} points")
        for row in front[:10]:
            print("  " + _params({k: row.get(k) for k in spec.axis_keys}) + "  " +
                  "  ".join(f"{k}={row[k]:.4g}" for k in spec.pareto))
        if args.plot and front:
            _plot_front(result, spec, out)
    return 0


def _serve(args) -> int:
    from sim.output.perfetto import ServingTraceWriter
    from sim.serving import serve
    from sim.serving.rows import RowWriter
    overrides = list(args.overrides)
    if args.num_requests is not None:
        overrides.append(f"requests.num_requests={args.num_requests}")
    if args.duration is not None:
        overrides.append(f"requests.duration={args.duration}")
    for flag, target in (("--json", args.json), ("--request-rows", args.requests_csv),
                         ("--trace-events", args.trace_events)):
        if target and not is_dir(Path(target).parent):
            raise SimError(f"{flag}: directory {show_path(Path(target).parent)} does not exist")
    with RowWriter(args.requests_csv) as rows, ServingTraceWriter(args.trace_events) as trace:
        def sink(row):
            rows.write(row)
            trace.request(row)
        wanted = args.requests_csv or args.trace_events
        report = serve(args.arch, args.model, args.requests, overrides,
                       sink=sink if wanted else None,
                       on_span=trace.step if args.trace_events else None,
                       decode_arch=args.decode_arch)
    if not args.quiet:
        print(report.summary())
    if args.json:
        report.to_json(args.json)
    written = [t for t in (args.json, args.requests_csv, args.trace_events) if t]
    if args.plot:
        from sim.output.serving_plots import write_serving_plots
        try:
            written += write_serving_plots(report.to_dict(), args.plot)
        except (OSError, ValueError) as exc:
            raise SimError(f"--plot: cannot write into {show_path(args.plot)}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    if written and not args.quiet:
        print("\nwrote " + ", ".join(written))
    return 0


def _trace_extract(args) -> int:
    try:
        from sim.workloads.extract import extract_to_file
    except ImportError:
        raise SimError("trace-extract needs torch and transformers: "
                       "pip install -e '.[trace]'") from None
    for flag, value in (("--batch", args.batch), ("--context", args.context),
                        ("--prompt", args.prompt)):
        if value < 1 and not (flag == "--context" and value == 0):
            raise SimError(f"{flag}: expected a positive integer, got {value}")
    header = extract_to_file(args.model, args.config, args.phase, args.batch, args.context,
                             args.prompt, args.out, args.dtype, args.device)
    print(f"wrote {args.out}: {header['ops']} ops of {args.model} {args.phase} "
          f"(batch {args.batch}), torch {header['libraries']['torch']}, "
          f"transformers {header['libraries']['transformers']}")
    return 0


def _params(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()
                    if k not in ("point", "key", "status", "error"))


def _plot_front(result, spec, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from sim.sweeps.dse import plot_pareto
    x, y = list(spec.pareto)[:2]
    ax = plot_pareto(result.ok(), x, y, spec.pareto)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "pareto.png", dpi=120)
    print(f"wrote {out / 'pareto.png'}")


def _write_outputs(report, args) -> None:
    from sim.output.plots import write_plots
    from sim.output.perfetto import write_trace
    writers = [("--json", args.json, report.to_json), ("--csv", args.csv, report.to_csv),
               ("--trace-events", args.trace_events, lambda p: write_trace(report, p))]
    written = []
    for flag, target, write in writers:
        if not target:
            continue
        if str(target).endswith(("/", "\\")) or is_dir(target):
            raise SimError(f"{flag} {show_path(target)}: is a directory; expected a file name")
        if not is_dir(Path(target).parent):
            raise SimError(f"{flag}: directory {show_path(Path(target).parent)} does not exist")
        try:
            write(target)
        except (OSError, ValueError) as exc:
            raise SimError(f"{flag}: cannot write {show_path(target)}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        written.append(target)
    if args.plot:
        try:
            written += write_plots(report, args.plot)
        except (OSError, ValueError) as exc:
            raise SimError(f"--plot: cannot write into {show_path(args.plot)}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    if written and not args.quiet:
        print("\nwrote " + ", ".join(str(w) for w in written))


if __name__ == "__main__":
    sys.exit(main())
