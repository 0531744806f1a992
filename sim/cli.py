"""The ``simulate`` command.

    simulate --arch arch_configs/systolic.yaml --workload llama7b_decode
    simulate --arch A.yaml --workload llama7b_prefill --set workload.prompt_len=2048 \\
             --json out.json --csv ops.csv --plot out/ --trace-events trace.json
    simulate --describe systolic
    simulate --list

User mistakes print one line per problem (``error: file: key: ...``) and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.errors import SimError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simulate",
        description="Cycle-level simulation of an LLM workload on an accelerator design.")
    p.add_argument("--arch", help="architecture YAML (kind: picks the family)")
    p.add_argument("--workload", help="named workload (e.g. llama7b_decode) or a workload YAML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value: array.rows=256, workload.batch=8 (repeatable)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--csv", metavar="FILE", help="write per-op rows as CSV")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--trace-events", metavar="FILE",
                   help="write a Chrome/Perfetto trace of unit occupancy")
    p.add_argument("--top", type=int, default=10, help="ops to list in the summary (default 10)")
    p.add_argument("--quiet", action="store_true", help="print no summary")
    p.add_argument("--describe", metavar="KIND", help="list every config field of a family")
    p.add_argument("--list", action="store_true", help="list families, workloads and models")
    p.add_argument("--version", action="store_true", help="print the simulator version")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(args, parser)
    except SimError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(args, parser) -> int:
    from sim import __version__
    if args.version:
        print(__version__)
        return 0
    if args.describe:
        from sim.docs import describe_family
        print(describe_family(args.describe))
        return 0
    if args.list:
        from sim.docs import list_everything
        print(list_everything())
        return 0
    if not args.arch or not args.workload:
        raise SimError("--arch and --workload are required (or use --describe KIND / --list); "
                       "e.g. simulate --arch arch_configs/systolic.yaml --workload llama7b_decode")
    from sim.arch import load_arch, split_overrides
    from sim.simulate import load_workload, simulate
    arch_over, work_over = split_overrides(args.overrides)
    arch = load_arch(args.arch, arch_over)
    workload = load_workload(args.workload, arch, work_over)
    report = simulate(arch, workload)
    if not args.quiet:
        print(report.summary(top=args.top))
    _write_outputs(report, args)
    return 0


def _write_outputs(report, args) -> None:
    from sim.plots import write_plots
    from sim.trace_events import write_trace
    writers = [("--json", args.json, report.to_json), ("--csv", args.csv, report.to_csv),
               ("--trace-events", args.trace_events, lambda p: write_trace(report, p))]
    written = []
    for flag, target, write in writers:
        if not target:
            continue
        if not Path(target).parent.is_dir():
            raise SimError(f"{flag}: directory {Path(target).parent} does not exist")
        try:
            write(target)
        except OSError as exc:
            raise SimError(f"{flag}: cannot write {target}: {exc.strerror or exc}") from None
        written.append(target)
    if args.plot:
        try:
            written += write_plots(report, args.plot)
        except OSError as exc:
            raise SimError(f"--plot: cannot write into {args.plot}: {exc.strerror or exc}") from None
    if written and not args.quiet:
        print("\nwrote " + ", ".join(str(w) for w in written))


if __name__ == "__main__":
    sys.exit(main())
