"""What one serving step costs on the device: the family's own simulation of the batch.

A step is a prefill of some prompts or a decode of the running requests, each of its own
length (:func:`sim.workloads.loader.step_workload`). ``exact`` simulates every distinct step.
``interpolate`` simulates steps on a grid of batch shapes and interpolates between them, so a
run of thousands of steps costs a few dozen simulations:

- **decode** of ``D`` requests holding ``K`` cached tokens: linear in the mean context
  ``c = K / D`` between grid nodes and in ``D`` between nodes refined as for prefill, each node
  simulated with ``D`` requests of ``c`` tokens. A cost ``a + b D + e D c`` (weights,
  per-request work, attention over the cache) is reproduced exactly. Where the family's cost
  depends on how the tokens spread over the requests (PIM channels each serving whole
  requests), the ratio of the longest request to the mean is a third axis, and a node's
  batch holds one request that long and the others falling off geometrically from it.
- **prefill** of prompts ``p_1 .. p_n``: the ops other than attention and the LM head at
  ``T = sum p_i`` tokens, the LM head at its ``n`` rows (each linear between nodes on an axis
  of its own), plus the attention of each distinct prompt length with its count of prompts
  (log-log between nodes, exact for a power law). The parts are simulations of the step's own
  ops, split by role, so per-op overheads count as often as in the step.
- **mixed** (chunked prefill): prompt chunks beside decodes in one step, simulated as one
  prefill pass in which a decode is a one-token chunk after its cached tokens. Interpolated as
  its parts: the ops other than attention and the LM head at the step's tokens, the LM head at
  its rows, each chunk's attention (a chunk after cached tokens: linear in the cached tokens
  between refined nodes and in the chunk between grid nodes), and the decodes' attention on
  the decode grid above.

Grid nodes: every integer up to :data:`EXACT_BELOW`, then :data:`NODES_PER_OCTAVE` geometric
nodes per doubling. ``benchmarks/serving_bench.py`` measures the error against ``exact`` on
the steps of a real run (docs/serving.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Callable

from sim.core.config import Config
from sim.core.errors import WorkloadError
from sim.simulation.arch import Arch, load_arch
from sim.simulation.simulate import simulate, simulate_cost, workload_problems
from sim.workloads.loader import step_workload
from sim.workloads.model import Workload

EXACT_BELOW = 16
NODES_PER_OCTAVE = 4
RATIO_NODES_PER_OCTAVE = 8
#: largest relative gap between an interval's midpoint and its interpolation that leaves the
#: interval unsplit (prefill parts)
TOLERANCE = 0.005


@dataclasses.dataclass(frozen=True)
class Cost:
    """A step's device time (s) and energy (J)."""

    seconds: float
    joules: float

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, self.joules + other.joules)

    def scaled(self, w: float) -> "Cost":
        return Cost(self.seconds * w, self.joules * w)


ZERO = Cost(0.0, 0.0)


def grid_nodes(x: float) -> tuple[int, int]:
    """The grid nodes below and above ``x`` (>= 1): integers up to :data:`EXACT_BELOW`, then
    ``NODES_PER_OCTAVE`` per doubling, rounded to integers."""
    if x <= EXACT_BELOW:
        return math.floor(x), math.ceil(x)
    e = math.log2(x) * NODES_PER_OCTAVE
    lo = round(2 ** (math.floor(e) / NODES_PER_OCTAVE))
    hi = round(2 ** (math.ceil(e) / NODES_PER_OCTAVE))
    return min(lo, math.floor(x)), max(hi, math.ceil(x))


def _top(x: float, nodes: tuple[int, int]) -> int:
    """The highest node an interpolation at ``x`` uses."""
    return nodes[1] if x > nodes[0] else nodes[0]


def _below(node: int) -> int:
    """The grid node below ``node`` (1 stays 1)."""
    return grid_nodes(node - 1)[0] if node > 1 else 1


def ratio_nodes(x: float) -> tuple[float, float]:
    """Nodes of the longest-to-mean context ratio (>= 1) around ``x``: RATIO_NODES_PER_OCTAVE
    per doubling from 1."""
    if x <= 1.0:
        return 1.0, 1.0
    e = math.log2(x) * RATIO_NODES_PER_OCTAVE
    return (2 ** (math.floor(e) / RATIO_NODES_PER_OCTAVE),
            2 ** (math.ceil(e) / RATIO_NODES_PER_OCTAVE))


def representative(requests: int, context: int, ratio: float) -> tuple[int, ...]:
    """A decode batch of ``requests`` holding ``requests * context`` tokens, the longest
    ``ratio`` times the mean and the others decaying geometrically from it (the sorted
    lengths of a continuous batch fall off about so; one long request over an even rest
    misjudges how PIM channels pair short requests by up to 1.8 %, this shape by 0.3 %)."""
    total = requests * context
    longest = max(context, min(round(context * ratio), total - (requests - 1)))
    if requests == 1 or longest == context:
        return (context,) * requests
    lo, hi = 0.0, 1.0  # the decay a with longest * (1 + a + ... + a^(D-1)) = total
    for _ in range(64):
        a = (lo + hi) / 2
        lo, hi = (a, hi) if longest * (1 - a ** requests) / (1 - a) < total else (lo, a)
    rest = [max(1.0, longest * a ** i) for i in range(1, requests)]
    lens = [max(1, math.floor(x)) for x in rest]
    short = total - longest - sum(lens)  # hand the rounding remainder to the largest parts
    order = sorted(range(len(rest)), key=lambda i: (lens[i] - rest[i], i))
    for i in order[:max(0, short)]:
        lens[i] += 1
    while short < 0:  # the one-token floor overshot: take back from the longest of the rest
        i = max(range(len(lens)), key=lambda j: (lens[j], -j))
        take = min(-short, lens[i] - 1)
        lens[i] -= take
        short += take
    return tuple(sorted([longest] + lens, reverse=True))


def _pair_weights(x: float, nodes) -> list[tuple[float, float]]:
    """``(node, weight)`` of a linear interpolation at ``x`` between two nodes (weights
    non-zero; one is negative when ``x`` lies beyond the nodes: an extrapolation)."""
    lo, hi = nodes
    w = _weight(x, lo, hi)
    return [(n, v) for n, v in ((lo, 1 - w), (hi, w)) if v != 0] or [(lo, 1.0)]


def _weight(x: float, lo: float, hi: float) -> float:
    """Share of the upper node in a linear interpolation at ``x``."""
    return 0.0 if hi == lo else (x - lo) / (hi - lo)


class StepCost:
    """Costs of serving steps of ``base``'s model on ``arch`` (``mode``: interpolate / exact)."""

    def __init__(self, arch: Arch, base: Workload, mode: str = "interpolate"):
        self.base = base
        self.mode = mode
        self.arch = {phase: _phase_arch(arch, phase) for phase in ("prefill", "decode")}
        self.simulations = 0  # how many step simulations the run took
        self._cache: dict[tuple, Cost] = {}
        self._models: dict[int, Workload] = {}
        self._plans: dict[str, dict] = {}  # op plans shared by the simulations of a phase
        self._sessions: dict[str, dict] = {}  # the family's context, area, power, per phase
        self.static_w = None  # the device's static power (W), from its first simulation
        self._spread: bool | None = None

    # ---- the two step kinds ---------------------------------------------------------------
    def decode(self, requests: int, cached: int, longest: int,
               lens: Callable[[], tuple[int, ...]]) -> Cost:
        """A decode step of ``requests`` requests holding ``cached`` tokens in all, the
        longest ``longest``; ``lens()`` gives each request's cached tokens (exact mode)."""
        if self.mode == "exact":
            return self.exact("decode", lens())
        return self._decode_grid("decode", requests, cached, longest,
                                 lambda lens: self.exact("decode", lens))

    def _decode_grid(self, tag: str, requests: int, cached: int, longest: int,
                     node: Callable[[tuple[int, ...]], Cost]) -> Cost:
        """``node(lens)`` of a decode batch interpolated on the grid of request counts, mean
        contexts and (where it matters) longest-to-mean ratios; ``tag`` names ``node``."""
        mean = max(cached / requests, 1.0)
        spread = min(max(longest / mean, 1.0), requests) if self._spread_matters() else 1.0
        c_top, d_top = _top(mean, grid_nodes(mean)), _top(requests, grid_nodes(requests))
        c_limit = d_limit = None
        if not self._fits_decode(d_top, c_top):
            # the node above is past the memory (the step itself fits): extrapolate from the
            # two nodes below, the mean context first, then the batch
            c_limit = grid_nodes(mean)[0]
            if not self._fits_decode(d_top, c_limit):
                d_limit = grid_nodes(requests)[0]
        total = ZERO
        c_nodes = grid_nodes(mean) if c_limit is None else (_below(c_limit), c_limit)
        for r, wr in _pair_weights(spread, ratio_nodes(spread)):
            for c, wc in _pair_weights(mean, c_nodes):
                total += self._adaptive(
                    (tag, c, r, d_limit), requests,
                    lambda n, c=c, r=r: self._grid_node(tag, node, n, c, r),
                    limit=d_limit).scaled(wr * wc)
        return total

    def _grid_node(self, tag: str, node, requests: int, context: int, ratio: float) -> Cost:
        """``node`` of the representative batch of a grid node (cached by the node, so a
        step that lands on known nodes builds no batch)."""
        key = ("node", tag, requests, context, ratio)
        cost = self._cache.get(key)
        if cost is None:
            cost = self._cache[key] = node(representative(requests, context, ratio))
        return cost

    def mixed(self, chunks: tuple[tuple[int, int], ...], requests: int, cached: int,
              longest: int, lens: Callable[[], tuple[int, ...]]) -> Cost:
        """A step of prompt ``chunks`` ``(tokens, tokens cached before)`` beside a decode of
        ``requests`` requests (``cached``, ``longest`` and ``lens`` as in :meth:`decode`; no
        decode: 0, 0, 0). One pass: the LM head runs on a row per chunk and per decode."""
        if self.mode == "exact":
            return self.exact_mixed(chunks, lens() if requests else ())
        tokens = sum(c for c, _ in chunks) + requests
        total = self._body_and_head(tokens, len(chunks) + requests)
        for (c, before), k in sorted(Counter(chunks).items()):
            if before == 0:  # a whole prompt, or a first chunk: as in a prefill step
                total += self._adaptive(("prefill", "attention", k), c,
                                        lambda n, k=k: self._prompts_attention(n * k, k),
                                        log=True)
                continue
            for cn, wc in _pair_weights(c, grid_nodes(c)):
                total += self._adaptive(
                    ("chunk-attention", cn, k), before,
                    lambda b, cn=cn, k=k: self._chunk_attention(cn, b, k)).scaled(wc)
        if requests:
            total += self._decode_grid("mixed-decode", requests, cached, longest,
                                       self._decodes_attention)
        return total

    def prefill(self, lens: tuple[int, ...]) -> Cost:
        """A prefill step of prompts of ``lens`` tokens."""
        if self.mode == "exact":
            return self.exact("prefill", lens)
        total = self._body_and_head(sum(lens), len(lens))  # the LM head: a prompt's last token
        for p, count in sorted(Counter(lens).items()):  # one attention product per length
            total += self._adaptive(("prefill", "attention", count), p,
                                    lambda n, k=count: self._prompts_attention(n * k, k),
                                    log=True)
        return total

    # ---- interpolation --------------------------------------------------------------------
    def _adaptive(self, name: tuple, x: int, f: Callable[[int], Cost], log: bool = False,
                  limit: int | None = None) -> Cost:
        """``f(x)`` interpolated between the grid nodes around ``x``: an interval is halved
        until its midpoint agrees with the interpolation within :data:`TOLERANCE` (a tile
        edge makes a step that no spacing of nodes would see). ``name`` identifies ``f``;
        nodes above ``limit`` are not simulated (the two below extrapolate)."""
        lo, hi = grid_nodes(x)
        if limit is not None and hi > limit and x > lo:
            lo, hi = _below(lo), lo
        else:
            while hi - lo > 1 and not self._smooth(name, lo, hi, f, log):
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if x <= mid else (mid, hi)
        if x == lo or lo == hi:
            return f(lo)
        if x == hi:
            return f(hi)
        return _between(f(lo), f(hi), lo, hi, x, log)

    def _smooth(self, name: tuple, lo: int, hi: int, f, log: bool) -> bool:
        """Whether the interpolation from ``lo`` and ``hi`` meets ``f`` at the interval's
        quarter points (a single midpoint misses a step that comes back within it)."""
        key = ("smooth",) + name + (lo, hi)
        ok = self._cache.get(key)
        if ok is None:
            ok = True
            for x in sorted({lo + (hi - lo) * q // 4 for q in (2, 1, 3)} - {lo, hi}):
                guess, true = _between(f(lo), f(hi), lo, hi, x, log), f(x)
                if abs(guess.seconds - true.seconds) > TOLERANCE * true.seconds:
                    ok = False
                    break
            self._cache[key] = ok
        return ok

    def _spread_matters(self) -> bool:
        """Whether the family's decode cost depends on how the cached tokens spread over the
        requests (PIM channels serving requests whole) or, within :data:`TOLERANCE`, only on
        their sum (attention over the concatenated cache; a GPU's flash-decoding splits move
        it by 0.03 %): one probe of sixteen requests, even and with the longest four times the
        mean (fewer tokens on a device too small for 4,096)."""
        if self._spread is None:
            for context in (256, 64, 16):
                if self._fits_decode(16, context):
                    break
            even = self.exact("decode", (context,) * 16)
            uneven = self.exact("decode", representative(16, context, 4.0))
            self._spread = abs(uneven.seconds - even.seconds) > TOLERANCE * even.seconds
        return self._spread

    def _fits_decode(self, requests: int, context: int) -> bool:
        key = ("fits", requests, context)
        ok = self._cache.get(key)
        if ok is None:
            ok = self._cache[key] = not self.fits("decode", (context,) * requests)
        return ok

    # ---- simulations ----------------------------------------------------------------------
    def exact(self, phase: str, lens: tuple[int, ...]) -> Cost:
        """The family's simulation of one step (cached by the sorted lengths)."""
        key = (phase, tuple(sorted(lens, reverse=True)))
        cost = self._cache.get(key)
        if cost is None:
            cost = self._cache[key] = self._simulate(phase, key[1])
        return cost

    def exact_mixed(self, chunks: tuple[tuple[int, int], ...], decodes: tuple[int, ...]) -> Cost:
        """The family's simulation of a mixed step: ``chunks`` ``(tokens, cached before)`` and
        decodes of ``decodes`` cached tokens in one prefill pass (cached by the sorted
        shapes)."""
        chunks = tuple(sorted(chunks, reverse=True))
        decodes = tuple(sorted(decodes, reverse=True))
        return self._cached(("mixed", chunks, decodes),
                            tuple(c for c, _ in chunks) + (1,) * len(decodes), None,
                            tuple(b for _, b in chunks) + decodes)

    def _body_and_head(self, tokens: int, rows: int) -> Cost:
        """A pass's ops other than attention: all but the LM head see only the ``tokens``, the
        LM head its ``rows``; each interpolated on an axis of its own."""
        return (self._adaptive(("pass", "body"), tokens, lambda n: self._pass_part("body", n))
                + self._adaptive(("pass", "lm_head"), rows,
                                 lambda n: self._pass_part("lm_head", n)))

    def _pass_part(self, role: str, n: int) -> Cost:
        """Of a prefill or mixed pass: the ops other than attention and the LM head at ``n`` tokens
        (``body``: they see only the token count), or the LM head on ``n`` rows."""
        keep = (lambda op: op.role not in ("attention", "lm_head")) if role == "body" else \
            (lambda op: op.role == "lm_head")
        return self._cached(("pass-" + role, n), (n,) if role == "body" else (1,) * n, keep)

    def _chunk_attention(self, tokens: int, before: int, count: int) -> Cost:
        """Attention of ``count`` prompt chunks of ``tokens`` after ``before`` cached tokens."""
        return self._cached(("chunk-attention", tokens, before, count), (tokens,) * count,
                            _is_attention, (before,) * count)

    def _decodes_attention(self, lens: tuple[int, ...]) -> Cost:
        """Attention of decodes of ``lens`` cached tokens in a mixed step."""
        lens = tuple(sorted(lens, reverse=True))
        return self._cached(("mixed-decode-attention", lens), (1,) * len(lens), _is_attention,
                            lens)

    def _cached(self, key: tuple, lens: tuple[int, ...], keep, prior=()) -> Cost:
        """A prefill-pass simulation (of the ops ``keep`` selects; None: all), cached by
        ``key``."""
        cost = self._cache.get(key)
        if cost is None:
            cost = self._cache[key] = self._simulate("prefill", lens, keep, prior)
        return cost

    def _prompts_attention(self, tokens: int, prompts: int = 1) -> Cost:
        """The attention of a prefill of ``tokens`` split evenly over ``prompts`` prompts."""
        q, extra = divmod(tokens, prompts)
        return self._cached(("prefill-attention", tokens, prompts),
                            (q + 1,) * extra + (q,) * (prompts - extra), _is_attention)

    def _simulate(self, phase: str, lens: tuple[int, ...], keep=None, prior=()) -> Cost:
        """The step's cost. Exact mode simulates the whole model. Interpolation nodes
        simulate it with one and with two decoder layers and extend to all of them: every
        family runs its identical layers identically, so a step's time and energy are affine
        in the layer count (``tests/test_serving.py`` holds each family to this)."""
        if self.mode == "exact":
            return self._run(phase, self.base, lens, keep, check=keep is None, prior=prior)
        one = self._run(phase, self._layers(1), lens, keep, check=False, prior=prior)
        two = self._run(phase, self._layers(2), lens, keep, check=False, prior=prior)
        return layers_affine(one, two, self.base.model.layers)

    def _layers(self, n: int) -> Workload:
        """The base workload with ``n`` decoder layers."""
        if n not in self._models:
            data = self.base.model.cfg.to_dict()
            data["layers"] = n
            self._models[n] = dataclasses.replace(
                self.base, model=dataclasses.replace(self.base.model, cfg=Config(data)))
        return self._models[n]

    def _run(self, phase: str, base: Workload, lens, keep, check: bool, prior=()) -> Cost:
        workload = step_workload(base, phase, lens, prior)
        if keep is not None:  # a part of the step: its own ops, no whole-pass MAC check
            workload = dataclasses.replace(
                workload, ops=tuple(op for op in workload.ops if keep(op)), closed_form_macs=None)
        self.simulations += 1
        if self.mode == "exact":
            report = simulate(self.arch[phase], workload, check=check)
            seconds, joules = report.seconds, report.energy_joules
            static_w = report.power.get("static_w", 0.0)
        else:  # the same totals without the report; op plans and the family's context shared
            seconds, joules, static_w = simulate_cost(
                self.arch[phase], workload, self._plans.setdefault(phase, {}),
                self._sessions.setdefault(phase, {}))
        if self.static_w is None:
            self.static_w = static_w
        return Cost(seconds, joules)

    def fits(self, phase: str, lens: tuple[int, ...]) -> list[str]:
        """Problems of running this step at all (capacity, positions); empty if it fits."""
        return workload_problems(self.arch[phase], step_workload(self.base, phase, lens))


def _is_attention(op) -> bool:
    return op.role == "attention"


def layers_affine(one: Cost, two: Cost, layers: int) -> Cost:
    """A model of ``layers`` decoder layers from its costs with one and with two."""
    return one + (two + one.scaled(-1)).scaled(layers - 1)


def _between(a: Cost, b: Cost, lo: int, hi: int, x: int, log: bool) -> Cost:
    """Interpolate costs ``a`` at ``lo`` and ``b`` at ``hi`` to ``x``: linearly, or on a
    log-log scale (exact for a power law such as attention's square of the prompt)."""
    if not log:
        w = _weight(x, lo, hi)
        return a.scaled(1 - w) + b.scaled(w)
    t = math.log(x / lo) / math.log(hi / lo)
    return Cost(_loglog(a.seconds, b.seconds, t), _loglog(a.joules, b.joules, t))


def _loglog(a: float, b: float, t: float) -> float:
    """Interpolate between positive ``a`` (t = 0) and ``b`` (t = 1) on a log scale."""
    if a <= 0 or b <= 0:
        return a + (b - a) * t
    return math.exp(math.log(a) + (math.log(b) - math.log(a)) * t)


def _phase_arch(arch: Arch, phase: str) -> Arch:
    """The arch a phase of serving runs on: the family may run a phase on part of the design
    (``Family.serving_overrides``: NeuPIMs prefills on its NPU alone)."""
    overrides = arch.family.serving_overrides(arch.cfg, phase)
    if not overrides:
        return arch
    try:
        derived = load_arch(arch.resolved(), overrides)
    except Exception as exc:  # pragma: no cover - a family hook naming a key of its own schema
        raise WorkloadError(f"{arch.file}: serving {phase} needs {overrides}: {exc}") from None
    return dataclasses.replace(derived, file=arch.file)
