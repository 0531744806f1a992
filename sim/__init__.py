"""accelsim: a cycle-level simulator of LLM accelerators.

Python API::

    from sim import load_arch, load_workload, simulate
    arch = load_arch("arch_configs/systolic.yaml", overrides=["array.rows=256"])
    report = simulate(arch, "llama7b_decode", overrides=["workload.batch=8"])
    print(report.cycles, report.energy_joules, report.area_mm2)
    result = sweep("docs/sweeps/systolic_dse.yaml", out="results/", workers=2)
    front = pareto_front(result.ok(), {"tokens_per_second": "max", "area_mm2": "min"})
    served = serve("lut_tc", "llama7b", overrides=["requests.rate=4"])
"""

from sim.core.version import __version__
from sim.simulation.arch import Arch, load_arch
from sim.core.errors import ConfigError, SimError, WorkloadError
from sim.core.report import Report
from sim.simulation.simulate import load_workload, simulate
from sim.sweeps.spec import load_sweep
from sim.sweeps.runner import SweepResult, load_results, max_rate_under_slo, sweep
from sim.sweeps.dse import pareto_front
from sim.serving import ServeReport, serve

__all__ = ["Arch", "load_arch", "load_workload", "simulate", "Report", "ConfigError",
           "sweep", "load_sweep", "SweepResult", "load_results", "pareto_front",
           "WorkloadError", "SimError", "serve", "ServeReport", "max_rate_under_slo",
           "__version__"]
