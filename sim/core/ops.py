"""The op graph: plain frozen dataclasses produced by workload lowering, consumed by mappers.

Every op is tagged with its ``layer`` (-1 outside decoder layers) and its ``role`` (``qkv``,
``attention``, ``ffn``, ``norm``, ``lm_head``, ...). Sizes are element counts; bit widths are per
operand, so byte counts follow from the shape and never need to be stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass

#: a workload's precision keys (bits): linear-layer weights and inputs, the KV cache, and the
#: attention path (Q, scores, softmax, P)
PRECISIONS = ("weight_bits", "act_bits", "kv_bits", "attention_bits")


def bits_to_bytes(elements: int, bits: int) -> int:
    """Bytes occupied by ``elements`` values of ``bits`` bits, packed (rounded up)."""
    return -(-elements * bits // 8)


@dataclass(frozen=True)
class Gemm:
    """``count`` independent products C[m,n] = A[m,k] @ B[k,n].

    A is an activation; B is a weight (``b_source='weight'``, read from DRAM once per use) or the
    KV cache (``b_source='kv'``). A GEMV is a GEMM with ``m == 1``. ``param_elems`` is the size of
    the parameter tensor this op owns (weights plus bias), 0 for KV-cache products.
    """

    name: str
    layer: int
    role: str
    m: int
    n: int
    k: int
    count: int = 1
    a_bits: int = 16
    b_bits: int = 16
    c_bits: int = 16
    b_source: str = "weight"
    param_elems: int = 0
    kv_lens: tuple[int, ...] = ()

    @property
    def kind(self) -> str:
        return "gemv" if self.m == 1 else "gemm"

    @property
    def macs(self) -> int:
        return self.count * self.m * self.n * self.k

    @property
    def a_bytes(self) -> int:
        return self.count * bits_to_bytes(self.m * self.k, self.a_bits)

    @property
    def b_bytes(self) -> int:
        return self.count * bits_to_bytes(self.k * self.n, self.b_bits)

    @property
    def c_bytes(self) -> int:
        return self.count * bits_to_bytes(self.m * self.n, self.c_bits)

    @property
    def shape(self) -> str:
        lead = f"{self.count}x" if self.count > 1 else ""
        return f"{lead}[{self.m}x{self.k}]@[{self.k}x{self.n}]"


@dataclass(frozen=True)
class Elementwise:
    """A vector-unit op over ``elements`` output values (norms, softmax, activations, adds, RoPE).

    ``op`` selects the per-element operation count in the family's vector model. ``in_elems`` and
    ``out_elems`` are activation values read and written; ``param_elems`` is the size of the
    parameter tensor the op owns and ``param_read_elems`` how much of it one run reads (an
    embedding gather reads only the rows of the tokens). ``kv_write_elems`` are KV-cache values
    appended to DRAM.
    """

    name: str
    layer: int
    role: str
    op: str
    elements: int
    bits: int = 16
    in_elems: int = 0
    out_elems: int = 0
    param_elems: int = 0
    param_read_elems: int = 0
    param_bits: int = 16
    kv_write_elems: int = 0
    kv_bits: int = 16

    kind = "elementwise"
    macs = 0

    @property
    def in_bytes(self) -> int:
        return bits_to_bytes(self.in_elems, self.bits)

    @property
    def out_bytes(self) -> int:
        return bits_to_bytes(self.out_elems, self.bits)

    @property
    def param_read_bytes(self) -> int:
        return bits_to_bytes(self.param_read_elems, self.param_bits)

    @property
    def kv_write_bytes(self) -> int:
        return bits_to_bytes(self.kv_write_elems, self.kv_bits)

    @property
    def shape(self) -> str:
        return f"{self.op}[{self.elements}]"


@dataclass(frozen=True)
class TableBuild:
    """Precompute of the lookup tables a LUT-based GEMM reads instead of its activations.

    ``tables`` tables of ``entries`` entries of ``entry_bits`` bits are built from ``rows`` x
    ``k`` activations with ``ops_per_table`` vector operations each (LUT Tensor Core's DFG
    split of an mpGEMM into precompute + lookup). With ``fused`` the build is fused into that
    element-wise op, which then reads what it read and writes the tables instead of its output.
    """

    name: str
    layer: int
    role: str
    rows: int
    k: int
    tables: int
    entries: int
    entry_bits: int
    ops_per_table: int
    act_bits: int = 16
    fused: Elementwise | None = None

    kind = "table"
    macs = 0
    param_elems = 0
    param_bits = 16

    @property
    def table_bytes(self) -> int:
        return bits_to_bytes(self.tables * self.entries, self.entry_bits)

    @property
    def in_bytes(self) -> int:
        """Activations read (the fused producer's own inputs when fused)."""
        return self.fused.in_bytes if self.fused else bits_to_bytes(self.rows * self.k,
                                                                      self.act_bits)

    @property
    def shape(self) -> str:
        lead = f"{self.fused.shape}+" if self.fused else ""
        return f"{lead}tables[{self.tables}x{self.entries}]"




@dataclass(frozen=True)
class Transfer:
    """A DMA read of ``nbytes`` from DRAM into on-chip SRAM (weights or KV cache) that a
    decoupled access engine issues ahead of the compute op that consumes it."""

    name: str
    layer: int
    role: str
    nbytes: int
    what: str = "weights"

    kind = "dma"
    macs = 0
    param_elems = 0
    param_bits = 16

    @property
    def shape(self) -> str:
        return f"{self.what}[{self.nbytes} B]"


@dataclass(frozen=True)
class PimAttention:
    """Decode attention of a set of requests run inside the DRAM banks (logits, softmax, attend).

    ``kv_lens`` are the keys each request attends to; ``heads`` query heads of ``d_k`` (one KV
    head each); ``softmax`` is the element-wise op the NPU's vector unit runs between the two
    GEMVs. The KV cache stays in DRAM: it is read by the banks' MAC units, not over the bus.
    ``channel_sizes``, when given, pins the requests to channels: ``kv_lens`` is ordered channel
    by channel and channel c holds the next ``channel_sizes[c]`` requests (a sub-batch keeps the
    channels its KV cache was placed on).
    """

    name: str
    layer: int
    role: str
    kv_lens: tuple[int, ...]
    heads: int
    d_k: int
    kv_bits: int = 16
    softmax: Elementwise | None = None
    channel_sizes: tuple[int, ...] = ()

    kind = "pim_gemv"
    param_elems = 0
    param_bits = 16

    @property
    def macs(self) -> int:
        return 2 * self.heads * self.d_k * sum(self.kv_lens)

    @property
    def shape(self) -> str:
        return f"{len(self.kv_lens)} req x {self.heads}h x {self.d_k} over {sum(self.kv_lens)} keys"


@dataclass(frozen=True)
class Attention:
    """One layer's fused attention (QK^T, softmax, PV in one kernel, FlashAttention-style).

    ``count`` KV heads (times requests when all requests share ``kv_len``), each attended by
    ``group`` query heads of ``q_len`` tokens over ``kv_len`` keys of ``head_dim``; ``kv_lens``
    lists per-request key counts when they differ (then ``count`` is the KV heads alone).
    ``causal`` masks keys after each query (prefill). MACs are those of the two products it
    replaces, so totals are conserved; a causal kernel skips about half of them.
    """

    name: str
    layer: int
    role: str
    count: int
    group: int
    q_len: int
    kv_len: int
    head_dim: int
    bits: int = 16
    kv_bits: int = 16
    causal: bool = False
    kv_lens: tuple[int, ...] = ()

    kind = "attention"
    param_elems = 0
    param_bits = 16

    @property
    def keys(self) -> int:
        """Keys summed over the KV heads' requests (per KV head of one request when equal)."""
        return sum(self.kv_lens) if self.kv_lens else self.kv_len

    @property
    def macs(self) -> int:
        return 2 * self.count * self.group * self.q_len * self.keys * self.head_dim

    @property
    def kv_bytes(self) -> int:
        return 2 * self.count * bits_to_bytes(self.keys * self.head_dim, self.kv_bits)

    @property
    def q_bytes(self) -> int:
        """Query read plus output written (same size)."""
        reqs = len(self.kv_lens) if self.kv_lens else 1
        return 2 * self.count * reqs * bits_to_bytes(self.group * self.q_len * self.head_dim,
                                                     self.bits)

    @property
    def shape(self) -> str:
        return (f"{self.count}x{self.group}h q{self.q_len} kv{self.keys} d{self.head_dim}"
                + (" causal" if self.causal else ""))


def replace_attention(ops, make) -> list:
    """``ops`` with each ``attn_qk``, softmax, ``attn_pv`` triple replaced by
    ``make(qk, softmax, pv)`` (one op)."""
    out, ops, i = [], list(ops), 0
    while i < len(ops):
        op = ops[i]
        if isinstance(op, Gemm) and op.b_source == "kv" and op.name == "attn_qk":
            out.append(make(op, ops[i + 1], ops[i + 2]))
            i += 3
            continue
        out.append(op)
        i += 1
    return out


def fuse_attention(ops, decode: bool, group: int = 0) -> list:
    """Each attention triple replaced by one :class:`Attention`: one query token per request
    in decode, causal over the prompt in prefill. ``group`` query heads share a KV head (0:
    a prefill's queries are its keys; a prompt chunk after cached tokens needs it)."""
    def make(qk: Gemm, softmax, pv) -> Attention:
        # attn_qk has m = group * q_len rows
        q_len = 1 if decode else (qk.m // group if group else qk.n)
        return Attention(qk.name.replace("_qk", ""), qk.layer, qk.role, qk.count,
                         qk.m // q_len, q_len, 0 if qk.kv_lens else qk.n, qk.k,
                         qk.a_bits, qk.b_bits, causal=not decode, kv_lens=qk.kv_lens)
    return replace_attention(ops, make)


Op = Gemm | Elementwise | TableBuild | Transfer | PimAttention | Attention
