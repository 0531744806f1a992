"""The serving loop: continuous batching over a paged KV cache, as vLLM's scheduler does it.

Each iteration is one device step. With no request swapped out, requests that have arrived
are admitted first come, first served, while the batch has room (``max_batch`` requests,
``max_tokens`` prompt tokens) and the KV cache has pages for their prompts: they are
prefilled together and each gets its first token. Otherwise every running request decodes
one token. A decode that needs a new page when none is free evicts the newest running request
(recompute: its pages are dropped and it is prefilled again, prompt and output so far; swap:
its pages cross the host link and come back when pages free up, before new admissions).
With ``priority: decode`` admissions wait until no request is running.

With chunked prefill (:meth:`ServingEngine._hybrid`) a step holds prompt chunks and decodes
together within ``max_tokens``: decodes first and chunks in what is left (decode priority), or
chunks first and the decodes when they still fit (prefill priority).

Work per step does not grow with the batch: a running request's cached tokens, its finishing
step and the steps at which it needs a page follow from the step it joined, so a decode step
reads a few counters and pops the requests that finish (heaps with lazy deletion). Energy per
request is an accumulator of each decode step's energy per running request.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.core.errors import WorkloadError
from sim.serving.metrics import LogHistogram, TimeSeries
from sim.serving.requests import NS, Chunk
from sim.serving.stepcost import Cost, StepCost

#: pages vLLM keeps free at admission (``watermark`` 0.01 of the cache) so that running
#: requests can grow without an immediate eviction
WATERMARK = 0.01


@dataclass(slots=True)
class Request:
    """One request in flight. ``cached`` tokens were in the KV cache at decode step ``joined``;
    ``generated`` tokens had been produced by then."""

    id: int
    arrival: float
    prompt: int
    output: int
    generated: int = 0
    cached: int = 0
    joined: int = 0
    version: int = 0
    first_token: float = math.nan
    energy: float = 0.0
    energy_mark: float = 0.0
    preemptions: int = 0
    prefill_len: int = 0  # chunked prefill: tokens its prefill covers ...
    prefilled: int = 0  # ... and those done so far
    ready: float = 0.0  # when it can join the queue: its arrival, or when its KV came over

    def cached_at(self, step: int) -> int:
        return self.cached + step - self.joined


@dataclass
class Limits:
    max_batch: int
    max_tokens: int
    block: int
    blocks: int | None  # KV pages the device holds; None: unbounded
    preemption: str
    swap_s_per_token: float  # host-link seconds to move one token's KV one way
    overhead_s: float  # host seconds added to every step
    prefill_launch_s: float = 0.0  # host seconds to issue a prefill step: fixed part
    prefill_launch_per_prompt_s: float = 0.0  # ... and per prompt
    prefill_launch_sigma: float = 0.0  # log-normal spread of the launch time, step to step
    seed: int = 0  # of the launch-time draws
    chunked: bool = False  # chunked prefill: prompt chunks and decodes share a step
    priority: str = "prefill"  # who takes the step first: prefill or decode
    role: str = "both"  # disaggregated serving: "prefill" or "decode" device
    link_s_per_token: float = 0.0  # KV link (prefill -> decode device): seconds per token ...
    link_latency_s: float = 0.0  # ... plus this per transfer
    link_j_per_token: float = 0.0  # and its energy


@dataclass
class Totals:
    """What a run counted, in the units of each name."""

    requests: int = 0
    output_tokens: int = 0
    prompt_tokens: int = 0
    prefill_steps: int = 0
    decode_steps: int = 0
    mixed_steps: int = 0
    preemptions: int = 0
    busy_s: float = 0.0
    step_energy_j: float = 0.0
    swap_s: float = 0.0
    link_s: float = 0.0
    link_energy_j: float = 0.0
    first_arrival: float = math.nan
    last_finish: float = 0.0
    slo_met: int = 0
    ttft: LogHistogram = field(default_factory=LogHistogram)
    tpot: LogHistogram = field(default_factory=LogHistogram)
    e2e: LogHistogram = field(default_factory=LogHistogram)
    energy: LogHistogram = field(default_factory=LogHistogram)
    batch: TimeSeries = field(default_factory=TimeSeries)
    kv: TimeSeries = field(default_factory=TimeSeries)
    in_system: TimeSeries = field(default_factory=TimeSeries)


class ServingEngine:
    """Runs requests through the scheduler; ``sink(row)`` receives each finished request and
    ``on_step(phase, lens, cost)`` each step (its requests' lengths cost O(batch) to list)."""

    def __init__(self, cost: StepCost, limits: Limits, slo_ttft_s: float, slo_tpot_s: float,
                 sink=None, on_step=None, on_span=None):
        self.cost = cost
        self.on_step = on_step
        self.on_span = on_span  # (phase, start s, end s, requests, tokens) of each step
        self.lim = limits
        self.slo = (slo_ttft_s, slo_tpot_s)
        self.sink = sink
        self.t = 0.0
        self.step = 0  # decode steps so far
        self.waiting: deque[Request] = deque()
        self.swapped: deque[Request] = deque()
        self.prefilling: deque[Request] = deque()  # admitted, prompt partly prefilled (FCFS)
        self.running: dict[int, Request] = {}
        self.cached_total = 0  # KV tokens of the running requests
        self.used_blocks = 0
        self.energy_per_request = 0.0  # sum over decode steps of step energy / batch
        self._finish: list[tuple[int, int, int]] = []  # (last step, id, version)
        self._newest: list[tuple[int, int]] = []  # (-id, version): eviction order
        self._longest: list[tuple[int, int, int]] = []  # (joined - cached, id, version)
        self._need = [0] * limits.block  # running requests needing a page, by step % block
        self.totals = Totals()
        self.busy_s = 0.0  # this device's step time (s)
        self.handoff = None  # role prefill: receives each request whose KV leaves
        # host launch jitter: its own stream, so arrivals and lengths do not depend on it
        self._jitter = np.random.default_rng([limits.seed, 0x5EED]) \
            if limits.prefill_launch_sigma > 0 else None

    # ---- the loop -------------------------------------------------------------------------
    def run(self, chunks) -> Totals:
        self.open(chunks)
        while self.advance():
            pass
        return self.totals

    def open(self, chunks) -> None:
        """Take requests from ``chunks`` (arrival order); None: :meth:`deliver` brings them."""
        self._pending: deque[Request] = deque()
        self._chunks = iter(chunks if chunks is not None else ())
        self._more = chunks is not None
        self._releases: list[tuple[float, int]] = []  # (time, pages) freed when KV has left
        self._link_free = 0.0

    def advance(self) -> bool:
        """One step, or a move of the clock to the next arrival; False when all is done."""
        self._arrivals()
        if not self.in_system():
            if not self._pending:
                return self._more
            self.t = max(self.t, self._pending[0].ready)
            return True
        lim = self.lim
        if lim.role == "decode":
            self._admit_transferred()
        if lim.role == "prefill":
            if not self._prefill():  # every free page is in flight to the decode device
                self.t = max(self.t, self._releases[0][0])
        elif lim.chunked:
            self._hybrid()
        elif self.swapped or (lim.priority == "decode" and self.running) \
                or not self._prefill():
            self._decode()
        self._arrivals()
        if lim.role != "prefill":
            self._record()
        return True

    def in_system(self) -> bool:
        return bool(self.running or self.waiting or self.swapped or self.prefilling)

    def has_work(self) -> bool:
        """Requests in the system, queued to arrive, or still to be read."""
        return self.in_system() or bool(self._pending) or self._more

    def next_time(self) -> float:
        """When this device acts next: now with requests in the system, else at the next
        arrival (infinity with none known)."""
        if self.in_system():
            return self.t
        return self._pending[0].ready if self._pending else math.inf

    def deliver(self, r: Request) -> None:
        """A request whose KV cache reaches this (decode) device at ``r.ready``."""
        self._pending.append(r)

    def _arrivals(self) -> None:
        """Move the requests that have arrived by now into the waiting queue, and free the
        pages whose KV has left for the decode device."""
        pending = self._pending
        if self._more and len(pending) < 2:
            self._more = self._refill(pending, self._chunks)
        while pending and pending[0].ready <= self.t:
            self._arrive(pending.popleft())
            if self._more and not pending:
                self._more = self._refill(pending, self._chunks)
        while self._releases and self._releases[0][0] <= self.t:
            self.used_blocks -= heapq.heappop(self._releases)[1]

    def _refill(self, pending: deque, chunks) -> bool:
        chunk: Chunk | None = next(chunks, None)
        if chunk is None:
            return False
        for i in range(len(chunk)):
            arrival = float(chunk.arrival[i])
            pending.append(Request(chunk.first + i, arrival, int(chunk.prompt[i]),
                                   int(chunk.output[i]), ready=arrival))
        return True

    def _arrive(self, r: Request) -> None:
        total = self.totals
        if math.isnan(total.first_arrival):
            total.first_arrival = r.arrival
        if self.lim.blocks is not None:
            need = -(-(r.prompt + r.output - 1) // self.lim.block)
            if need > self.lim.blocks:
                raise WorkloadError(
                    f"scheduler.kv_capacity: request {r.id} needs {r.prompt + r.output - 1:,} "
                    f"KV tokens ({r.prompt} prompt + {r.output} output - 1) but the cache holds "
                    f"{self.lim.blocks * self.lim.block:,}; allowed: a larger kv_capacity or "
                    f"memory, or shorter requests (requests.max_len)")
        self.waiting.append(r)

    # ---- prefill --------------------------------------------------------------------------
    def _prefill(self) -> bool:
        """Admit waiting requests and prefill them in one step; False if none fits."""
        lim, batch, tokens = self.lim, [], 0
        free = self._free_blocks()
        reserve = math.ceil(WATERMARK * lim.blocks) if lim.blocks is not None else 0
        while self.waiting and len(self.running) + len(batch) < lim.max_batch:
            r = self.waiting[0]
            if lim.role == "decode" and r.cached:  # its KV came over: it joins, no prefill
                break
            length = r.prompt + max(r.generated, 0)  # a re-prefill rebuilds its output too
            if batch and tokens + length > lim.max_tokens:
                break
            pages = -(-length // lim.block)
            if free is not None and pages > free - reserve and (batch or self.running):
                break
            if free is not None and pages > free:
                break
            self.waiting.popleft()
            batch.append((r, length))
            tokens += length
            if free is not None:
                free -= pages
        if not batch:
            return False
        lens = tuple(n for _, n in batch)
        cost = self.cost.prefill(lens)
        if self.on_step is not None:
            self.on_step("prefill", lens, cost)
        start = self.t
        self._advance(cost, self._prefill_launch_s(len(batch)))
        if self.on_span is not None:
            self.on_span("prefill", start, self.t, len(batch), tokens)
        total = self.totals
        total.prefill_steps += 1
        total.prompt_tokens += tokens
        for r, length in batch:
            r.energy += cost.joules * length / tokens
            if r.generated == 0:
                r.first_token = self.t
            r.generated += 1
            r.cached = length
            if r.generated >= r.output:  # done in its prefill: its pages free at once
                self._finish_request(r)
            elif lim.role == "prefill":
                self._hand_off(r)
            else:
                self.used_blocks += -(-length // lim.block)
                self._join(r)
        return True

    # ---- disaggregated serving --------------------------------------------------------------
    def _hand_off(self, r: Request) -> None:
        """Send ``r``'s KV cache to the decode device over the link (one transfer at a time,
        first come first served); its pages here free when the transfer ends."""
        lim = self.lim
        start = max(self.t, self._link_free)
        seconds = lim.link_latency_s + r.cached * lim.link_s_per_token
        end = self._link_free = start + seconds
        self.used_blocks += -(-r.cached // lim.block)
        heapq.heappush(self._releases, (end, -(-r.cached // lim.block)))
        joules = r.cached * lim.link_j_per_token
        r.energy += joules
        self.totals.link_s += seconds
        self.totals.link_energy_j += joules
        r.ready = end
        self.handoff(r)

    def _admit_transferred(self) -> None:
        """Requests whose KV came over join the running batch (first come, first served)
        while the batch has room and the cache has pages for them."""
        lim = self.lim
        while self.waiting and self.waiting[0].cached and len(self.running) < lim.max_batch:
            r = self.waiting[0]
            pages = -(-r.cached // lim.block)
            free = self._free_blocks()
            if free is not None and pages > free:
                break
            self.waiting.popleft()
            self.used_blocks += pages
            self._join(r)

    # ---- decode ---------------------------------------------------------------------------
    def _decode(self, room: tuple[int, int] | None = None) -> None:
        """A step in which every running request decodes (``room``: :meth:`_make_room`'s
        answer when it was made already)."""
        swap_tokens, needed = self._make_room() if room is None else room
        if not self.running:
            return
        d, k = len(self.running), self.cached_total
        cost = self.cost.decode(d, k, self._longest_cached(), self._lens)
        if self.on_step is not None:
            self.on_step("decode", self._lens(), cost)
        swap = Cost(swap_tokens * self.lim.swap_s_per_token, 0.0)
        start = self.t
        self._advance(cost + swap)
        if self.on_span is not None:
            self.on_span("decode", start, self.t, d, k + d)
        self.totals.swap_s += swap.seconds
        self.totals.decode_steps += 1
        self._decoded(cost.joules, needed)

    def _make_room(self) -> tuple[int, int]:
        """Before a decode: swapped requests back, and pages for the tokens this step adds
        (evicting the newest requests where none are free). The tokens whose KV crossed the
        host link, and the pages the step takes."""
        lim = self.lim
        swap_tokens = self._swap_in()
        needed = self._need[self.step % lim.block]
        while lim.blocks is not None and self._free_blocks() < needed:
            if self.prefilling and len(self.running) <= 1:
                self._evict_prefilling()
                continue
            victim = self._newest_running()
            if victim is None or len(self.running) == 1:
                raise WorkloadError(
                    f"scheduler.kv_capacity: {lim.blocks * lim.block:,} KV tokens cannot hold "
                    f"one request growing past {self.cached_total:,} tokens; allowed: a larger "
                    f"kv_capacity or memory")
            swap_tokens += self._evict(victim)
            needed = self._need[self.step % lim.block]
        return swap_tokens, needed

    def _decoded(self, joules: float, needed: int) -> None:
        """Every running request got a token in a step whose decodes cost ``joules``."""
        d = len(self.running)
        self.energy_per_request += joules / d
        self.used_blocks += needed
        self.cached_total += d
        done = self.step
        self.step += 1
        while self._finish and self._finish[0][0] <= done:
            _, rid, version = heapq.heappop(self._finish)
            r = self.running.get(rid)
            if r is not None and r.version == version:
                self._leave(r)
                self._finish_request(r)

    # ---- chunked prefill: prompt chunks and decodes in one step ---------------------------
    def _hybrid(self) -> None:
        """One step under chunked prefill: the running requests decode and prompt chunks fill
        the rest of ``max_tokens`` (decode priority, as vLLM and Sarathi-Serve do), or chunks
        take the budget first and the running requests decode in the same step only while
        their tokens fit beside them (prefill priority)."""
        lim = self.lim
        room = self._make_room()
        d = len(self.running)
        chunks = self._take_chunks(max(0, lim.max_tokens - (
            d if lim.priority == "decode" else 0)))
        chunk_tokens = sum(n for _, n in chunks)
        if not chunks:
            if d:
                self._decode(room)
            return
        if lim.priority == "prefill" and chunk_tokens + d > lim.max_tokens:
            d = 0  # the running requests wait for a step with room
        k = self.cached_total if d else 0
        shapes = tuple((n, r.prefilled) for r, n in chunks)
        cost = self.cost.mixed(shapes, d, k, self._longest_cached() if d else 0, self._lens)
        phase = "mixed" if d else "prefill"
        if self.on_step is not None:
            self.on_step(phase, (shapes, self._lens() if d else ()), cost)
        swap = Cost(room[0] * lim.swap_s_per_token, 0.0)
        start = self.t
        self._advance(cost + swap, self._prefill_launch_s(len(chunks)))
        if self.on_span is not None:
            self.on_span(phase, start, self.t, len(chunks) + d, chunk_tokens + k + d)
        total = self.totals
        total.swap_s += swap.seconds
        total.prompt_tokens += chunk_tokens
        tokens = chunk_tokens + d
        if d:
            total.mixed_steps += 1
            self._decoded(cost.joules * d / tokens, room[1])
        else:
            total.prefill_steps += 1
        for r, n in chunks:
            r.energy += cost.joules * n / tokens
            r.prefilled += n
        while self.prefilling and self.prefilling[0].prefilled == self.prefilling[0].prefill_len:
            self._prefilled(self.prefilling.popleft())

    def _take_chunks(self, budget: int) -> list[tuple[Request, int]]:
        """Prompt chunks of this step, ``budget`` tokens at most: the requests being prefilled
        first, then waiting ones admitted (FCFS) while the batch has room and the cache pages
        for their whole prompt (held from admission)."""
        lim, out = self.lim, []
        for r in self.prefilling:
            if budget <= 0:
                return out
            n = min(r.prefill_len - r.prefilled, budget)
            out.append((r, n))
            budget -= n
        free = self._free_blocks()
        reserve = math.ceil(WATERMARK * lim.blocks) if lim.blocks is not None else 0
        while (budget > 0 and self.waiting and not self.swapped
               and len(self.running) + len(self.prefilling) < lim.max_batch):
            r = self.waiting[0]
            length = r.prompt + max(r.generated, 0)  # a re-prefill rebuilds its output too
            pages = -(-length // lim.block)
            if free is not None and pages > free - (reserve if self.running or
                                                    self.prefilling else 0):
                break
            self.waiting.popleft()
            r.prefill_len, r.prefilled = length, 0
            self.prefilling.append(r)
            if free is not None:
                free -= pages
                self.used_blocks += pages
            n = min(length, budget)
            out.append((r, n))
            budget -= n
        return out

    def _prefilled(self, r: Request) -> None:
        """``r``'s prompt is in the cache: its first token (or next, after a re-prefill)."""
        if r.generated == 0:
            r.first_token = self.t
        r.generated += 1
        r.cached = r.prefill_len
        if r.generated >= r.output:  # done in its prefill: its pages free at once
            self.used_blocks -= -(-r.prefill_len // self.lim.block)
            self._finish_request(r)
        else:
            self._join(r)

    def _evict_prefilling(self) -> None:
        """Preempt the newest request being prefilled: its pages are dropped and it waits at
        the head of the queue (recompute, whatever ``preemption`` says: its KV is partial)."""
        r = self.prefilling.pop()
        self.used_blocks -= -(-r.prefill_len // self.lim.block)
        r.prefilled = 0
        r.preemptions += 1
        self.totals.preemptions += 1
        self.waiting.appendleft(r)

    def _lens(self) -> tuple[int, ...]:
        return tuple(r.cached_at(self.step) for r in self.running.values())

    def _join(self, r: Request) -> None:
        """``r`` starts decoding at the next decode step with ``r.cached`` tokens cached."""
        r.version += 1
        r.joined = self.step
        r.energy_mark = self.energy_per_request
        self.running[r.id] = r
        self.cached_total += r.cached
        self._need[(r.joined - r.cached) % self.lim.block] += 1
        last = r.joined + r.output - r.generated - 1  # the decode step of its last token
        heapq.heappush(self._finish, (last, r.id, r.version))
        heapq.heappush(self._newest, (-r.id, r.version))
        heapq.heappush(self._longest, (r.joined - r.cached, r.id, r.version))

    def _leave(self, r: Request) -> None:
        """Take ``r`` out of the running set; its state is brought up to this step."""
        del self.running[r.id]
        self._need[(r.joined - r.cached) % self.lim.block] -= 1  # as _join counted it
        cached = r.cached_at(self.step)
        r.generated += self.step - r.joined
        r.cached = cached
        r.energy += self.energy_per_request - r.energy_mark
        self.cached_total -= cached
        self.used_blocks -= -(-cached // self.lim.block)
        r.version += 1

    def _longest_cached(self) -> int:
        """The most tokens a running request holds (its KV cache) at this step."""
        heap = self._longest
        while heap:
            key, rid, version = heap[0]
            r = self.running.get(rid)
            if r is not None and r.version == version:
                return self.step - key
            heapq.heappop(heap)
        return 0

    def _newest_running(self) -> Request | None:
        while self._newest:
            neg_id, version = heapq.heappop(self._newest)
            r = self.running.get(-neg_id)
            if r is not None and r.version == version:
                return r
        return None

    def _evict(self, r: Request) -> int:
        """Preempt ``r``; the tokens whose KV leaves over the host link (swap) or 0."""
        self._leave(r)
        r.preemptions += 1
        self.totals.preemptions += 1
        if self.lim.preemption == "swap":
            self.swapped.append(r)
            return r.cached
        r.cached = 0
        self.waiting.appendleft(r)
        return 0

    def _swap_in(self) -> int:
        """Bring swapped requests back while pages and batch room last (oldest first)."""
        moved = 0
        while self.swapped and len(self.running) < self.lim.max_batch:
            r = self.swapped[0]
            pages = -(-r.cached // self.lim.block)
            if pages > self._free_blocks():
                break
            self.swapped.popleft()
            self.used_blocks += pages
            moved += r.cached
            self._join(r)
        return moved

    # ---- bookkeeping ----------------------------------------------------------------------
    def _free_blocks(self) -> int | None:
        return None if self.lim.blocks is None else self.lim.blocks - self.used_blocks

    def _prefill_launch_s(self, prompts: int) -> float:
        """Host seconds to issue a prefill step of ``prompts`` prompts (a seeded draw where the
        launch time spreads)."""
        lim = self.lim
        launch = lim.prefill_launch_s + lim.prefill_launch_per_prompt_s * prompts
        if self._jitter is not None and launch > 0:
            launch *= math.exp(lim.prefill_launch_sigma * self._jitter.standard_normal())
        return launch

    def _advance(self, cost: Cost, launch_s: float = 0.0) -> None:
        """The clock moves by the step: the device's time, or the host's time to issue the
        step's kernels where that is longer, plus the host's per-step overhead (s)."""
        self.t += max(cost.seconds, launch_s) + self.lim.overhead_s
        self.totals.busy_s += cost.seconds  # the host's share: the device idles (static power)
        self.busy_s += cost.seconds
        self.totals.step_energy_j += cost.joules

    def _record(self) -> None:
        total, t = self.totals, self.t
        total.batch.add(t, len(self.running))
        total.kv.add(t, self.used_blocks)
        total.in_system.add(t, len(self.running) + len(self.waiting) + len(self.swapped))

    def _finish_request(self, r: Request) -> None:
        """``r`` produced its last token now (its pages are free): count it, hand its row out."""
        total, t = self.totals, self.t
        ttft = r.first_token - r.arrival
        e2e = t - r.arrival
        tpot = (t - r.first_token) / (r.output - 1) if r.output > 1 else 0.0
        total.requests += 1
        total.output_tokens += r.output
        total.last_finish = max(total.last_finish, t)
        total.ttft.add(ttft)
        total.e2e.add(e2e)
        total.energy.add(r.energy)
        if r.output > 1:
            total.tpot.add(tpot)
        if ttft <= self.slo[0] and tpot <= self.slo[1]:
            total.slo_met += 1
        if self.sink is not None:
            self.sink({"id": r.id, "arrival_s": r.arrival, "prompt_tokens": r.prompt,
                       "output_tokens": r.output, "first_token_s": r.first_token,
                       "finish_s": t, "ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e,
                       "energy_j": r.energy, "preemptions": r.preemptions})


def limits_from(spec, kv_tokens: int | None, kv_bytes_per_token: float, longest_default: int
                ) -> Limits:
    """The scheduler's limits from the spec's ``scheduler`` section and the device's KV room."""
    s = spec.scheduler
    blocks = None if kv_tokens is None else kv_tokens // s.block_size
    return Limits(max_batch=s.max_batch, max_tokens=s.max_tokens or longest_default,
                  block=s.block_size, blocks=blocks, preemption=s.preemption,
                  swap_s_per_token=kv_bytes_per_token / s.swap_bandwidth,
                  overhead_s=s.step_overhead * NS, prefill_launch_s=s.prefill_launch * NS,
                  prefill_launch_per_prompt_s=s.prefill_launch_per_prompt * NS,
                  prefill_launch_sigma=s.prefill_launch_sigma, seed=spec.requests.seed,
                  chunked=s.chunked_prefill,
                  priority=s.priority or ("decode" if s.chunked_prefill else "prefill"))


def disaggregated_limits(limits: Limits, role: str, spec, kv_bytes_per_token: float) -> Limits:
    """``limits`` for one device of a disaggregated pair (``role`` prefill or decode), the
    KV link from the spec's ``kv_link`` section."""
    link = spec.kv_link
    return dataclasses.replace(
        limits, role=role, link_s_per_token=kv_bytes_per_token / link.bandwidth,
        link_latency_s=link.latency * NS, link_j_per_token=kv_bytes_per_token * 8 *
        link.pj_per_bit * 1e-12)
