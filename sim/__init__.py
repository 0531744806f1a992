"""accelsim: a cycle-level simulator of LLM accelerators.

Python API::

    from sim import load_arch, load_workload, simulate
    arch = load_arch("arch_configs/systolic.yaml", overrides=["array.rows=256"])
    report = simulate(arch, "llama7b_decode", overrides=["workload.batch=8"])
    print(report.cycles, report.energy_joules, report.area_mm2)
    result = sweep("docs/sweeps/systolic_dse.yaml", out="results/", workers=2)
    front = pareto_front(result.ok(), {"tokens_per_second": "max", "area_mm2": "min"})
"""

__version__ = "0.1.0"

from sim.arch import Arch, load_arch  # noqa: E402
from sim.errors import ConfigError, SimError, WorkloadError  # noqa: E402
from sim.report import Report  # noqa: E402
from sim.simulate import load_workload, simulate  # noqa: E402
from sim.sweep_spec import load_sweep  # noqa: E402
from sim.sweep_run import SweepResult, load_results, sweep  # noqa: E402
from sim.dse import pareto_front  # noqa: E402

__all__ = ["Arch", "load_arch", "load_workload", "simulate", "Report", "ConfigError",
           "sweep", "load_sweep", "SweepResult", "load_results", "pareto_front",
           "WorkloadError", "SimError", "__version__"]
