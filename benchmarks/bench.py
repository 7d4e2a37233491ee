"""stochlstm performance benchmarks, side by side on one machine in one run.

    python benchmarks/bench.py                 # everything (about 5 minutes on 2 cores)
    python benchmarks/bench.py --quick         # small sizes, a smoke check (< 1 minute)
    python benchmarks/bench.py --only deterministic,vectorised
    python benchmarks/bench.py --out /tmp/results.csv

Benchmarks (``--only`` names):

deterministic  the kernel (deterministic gates, no-op consumer, seed groups
               in threads as ``stochlstm run`` runs them) vs the bare forward
               of ``torch.nn.LSTM`` (CPU, ``no_grad``), same weights, batch,
               sizes, float32 and number of threads.
bernoulli      bernoulli gates vs deterministic vs drawing the uniforms alone
               (``SeedBatchNoise.next_block`` in the kernel's block sizes and
               seed groups), and vs a plain PyTorch step loop with
               ``torch.bernoulli``.

Every comparison runs twice: on 1 thread, and on every usable core (torch's
default and stochlstm's).
vectorised     the vectorised kernel vs a per-seed Python loop over the
               reference ``stochlstm.core.cell.unroll``.
e2e            the real ``stochlstm run`` command in a subprocess (time, peak
               memory) vs the bare simulation of the same work, and vs torch.

Every time is the best (minimum) of N timed repeats after one warm-up call;
N is 3 for calls under 5 s, 2 under 20 s and 1 beyond (printed per row).
The table goes to stdout; the rows to ``--out`` (CSV, default
``benchmarks/results.csv``) and the machine description, table and notes to
the same path with the suffix ``.txt``.

``ratio`` is defined per row by its ``target`` text: a slowdown (``a / b <= x``)
or a speed-up (``b / a >= x``); rows without a target are references.
``peak_mb`` is the peak resident memory of this process during the timed
calls (in-process rows: the mark is reset through /proc/self/clear_refs before
each call; it includes the interpreter, numpy and torch, whose resident size
before the first benchmark is printed as "baseline RSS") or of the child
process (``stochlstm run`` rows, from wait4's rusage).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

BENCHMARKS = ("deterministic", "bernoulli", "vectorised", "e2e")
COLUMNS = (
    "benchmark",
    "variant",
    "batch",
    "hidden",
    "steps",
    "dtype",
    "seconds",
    "peak_mb",
    "ratio",
    "target",
    "meets_target",
)
INPUT_SIZE = 8
GATE_STREAMS = ["input", "forget", "output"]

FULL = {
    "det": {"batches": (1000, 4000), "hidden": 64, "steps": 1000},
    # (batch, steps): the uniform draws cost the same per step at any length
    # (the kernel draws them a block of steps at a time), so the large batch
    # runs 200 steps to keep the whole script near 5 minutes.
    "bern": {"runs": ((1000, 1000), (4000, 200)), "hidden": 64},
    "vec": {"seeds": 1000, "hidden": 16, "steps": 100, "loop_budget": 60.0},
    "e2e_a": {"seeds": 100_000, "steps": 100, "hidden": 16, "every": 1},
    "e2e_b": {"seeds": 4000, "steps": 1000, "hidden": 64, "every": 10},
}
QUICK = {
    "det": {"batches": (256,), "hidden": 64, "steps": 100},
    "bern": {"runs": ((256, 100),), "hidden": 64},
    "vec": {"seeds": 200, "hidden": 16, "steps": 50, "loop_budget": 1.0},
    "e2e_a": {"seeds": 4000, "steps": 50, "hidden": 16, "every": 1},
    "e2e_b": {"seeds": 512, "steps": 200, "hidden": 64, "every": 10},
}
WARMUP_STEPS = 50


# ---------------------------------------------------------------- machine


def _blas_library():
    """The (path, CDLL) of the BLAS numpy loaded, found in this process's maps."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None, None
    paths = []
    for line in maps:
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        name = os.path.basename(path).lower()
        if (
            "openblas" in name or name.startswith(("libmkl_rt", "libblis", "libblas"))
        ) and path not in paths:
            paths.append(path)
    paths.sort(key=lambda p: "numpy" not in p)  # numpy's own wheel library first
    for path in paths:
        try:
            return path, ctypes.CDLL(path)
        except OSError:
            continue
    return None, None


def _symbol(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    return None


def blas_threads() -> tuple[int | None, str]:
    """Threads numpy's BLAS uses, and a description of the library."""
    path, lib = _blas_library()
    if lib is None:
        return None, "unknown"
    get = _symbol(
        lib,
        [
            "scipy_openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads",
            "openblas_get_num_threads64_",
            "openblas_get_num_threads",
            "MKL_Get_Max_Threads",
            "mkl_get_max_threads",
            "bli_thread_get_num_threads",
        ],
    )
    config = _symbol(
        lib,
        [
            "scipy_openblas_get_config64_",
            "scipy_openblas_get_config",
            "openblas_get_config64_",
            "openblas_get_config",
        ],
    )
    text = os.path.basename(path)
    if config is not None:
        config.restype = ctypes.c_char_p
        text = f"{config().decode(errors='replace').strip()} ({text})"
    threads = None
    if get is not None:
        get.restype = ctypes.c_int
        threads = int(get())
    return threads, text


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or "unknown"
    threads, blas = blas_threads()
    import stochlstm
    from stochlstm.engine.threads import usable_cores

    usable = usable_cores()

    info = {
        "cpu": model,
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS": blas,
        "numpy BLAS threads": str(threads) if threads is not None else "unknown",
        "stochlstm": getattr(stochlstm, "__version__", "?"),
        "malloc settings": " ".join(
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k == "GLIBC_TUNABLES" or k.startswith("MALLOC_")
        )
        or "defaults",
        "platform": platform.platform(),
    }
    return info


def kernel_blas_threads() -> int | None:
    """The BLAS threads in effect *inside* ``run_kernel`` (it may limit them),
    read from a consumer during a one-step run."""
    from stochlstm.core.conditions import Condition
    from stochlstm.engine.kernel import run_kernel

    seen: list[int | None] = []
    run_kernel(
        _weights(4),
        np.zeros((1, INPUT_SIZE)),
        Condition(),
        [0, 1],
        lambda *args: seen.append(blas_threads()[0]),
    )
    return seen[0] if seen else None


_TORCH = None


def torch_or_none():
    """torch, imported on first use (None if missing)."""
    global _TORCH
    if _TORCH is None:
        try:
            import torch
        except ImportError:
            _TORCH = False
        else:
            _TORCH = torch
    return _TORCH or None


def thread_counts() -> tuple[int, ...]:
    """The thread counts every comparison runs at: 1, and every usable core
    (stochlstm's default and torch's)."""
    from stochlstm.engine.threads import usable_cores

    return tuple(sorted({1, usable_cores()}))


def set_torch_threads(threads: int) -> None:
    torch = torch_or_none()
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------- timing


def _status_kb(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> int | None:
    """Reset the peak-RSS mark; returns the current RSS (kB) or None if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return None
    return _status_kb("VmRSS")


@dataclass
class Timing:
    seconds: float
    repeats: int
    peak_mb: float | None


def measure(
    fn: Callable[[], object], warmup: Callable[[], object] | None = None, max_repeats: int = 3
) -> Timing:
    """Warm up once (``warmup`` or ``fn``), then the best of up to ``max_repeats``
    timed calls: 3 under 5 s, 2 under 20 s, 1 beyond."""
    (warmup or fn)()
    times, peak = [], None
    for k in range(max_repeats):
        gc.collect()
        reset = _reset_peak()
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        high = _status_kb("VmHWM")
        if reset is not None and high is not None:
            peak = max(peak or 0.0, high / 1024)
        times.append(elapsed)
        if elapsed > 20 or (elapsed > 5 and k >= 1):
            break
    return Timing(min(times), len(times), peak)


# ---------------------------------------------------------------- results


@dataclass
class Row:
    benchmark: str
    variant: str
    batch: int
    hidden: int
    steps: int
    dtype: str
    seconds: float | None
    peak_mb: float | None = None
    ratio: float | None = None
    target: str = ""
    meets_target: str = ""
    repeats: str = ""
    note: str = ""

    def csv(self) -> dict[str, str]:
        def num(value, digits):
            return "" if value is None else f"{value:.{digits}f}"

        return {
            "benchmark": self.benchmark,
            "variant": self.variant,
            "batch": self.batch,
            "hidden": self.hidden,
            "steps": self.steps,
            "dtype": self.dtype,
            "seconds": num(self.seconds, 4),
            "peak_mb": num(self.peak_mb, 1),
            "ratio": num(self.ratio, 3),
            "target": self.target,
            "meets_target": self.meets_target,
        }


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(
            f"  {row.benchmark:<13} {row.variant:<44} {_fmt(row.seconds, 's'):>9}  N={row.repeats or '-'}"
            + (
                f"  ratio {row.ratio:.3f} ({row.target}: {row.meets_target})"
                if row.ratio is not None
                else ""
            ),
            flush=True,
        )
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def _fmt(value, unit="") -> str:
    if value is None:
        return "-"
    return f"{value:.3f}{unit}" if value < 100 else f"{value:.1f}{unit}"


def check(ratio: float, op: str, bound: float) -> str:
    return (
        "yes"
        if (ratio <= bound if op == "<=" else ratio >= bound if op == ">=" else ratio < bound)
        else "no"
    )


def timed_row(
    report: Report,
    benchmark: str,
    variant: str,
    batch: int,
    hidden: int,
    steps: int,
    dtype: str,
    timing: Timing,
    note: str = "",
) -> Row:
    return report.add(
        Row(
            benchmark,
            variant,
            batch,
            hidden,
            steps,
            dtype,
            timing.seconds,
            timing.peak_mb,
            repeats=str(timing.repeats),
            note=note,
        )
    )


def compare(row: Row, ratio: float, op: str, bound: float, what: str) -> Row:
    row.ratio = ratio
    row.target = f"{what} {op} {bound:g}"
    row.meets_target = check(ratio, op, bound)
    print(f"      -> {row.target}: {ratio:.3f} ({row.meets_target})", flush=True)
    return row


def print_table(rows: list[Row]) -> str:
    header = (
        "benchmark",
        "variant",
        "batch",
        "hidden",
        "steps",
        "dtype",
        "seconds",
        "N",
        "peak MB",
        "ratio",
        "target",
        "met",
    )
    lines = [header] + [
        (
            r.benchmark,
            r.variant,
            str(r.batch),
            str(r.hidden),
            str(r.steps),
            r.dtype,
            _fmt(r.seconds),
            r.repeats or "-",
            "-" if r.peak_mb is None else f"{r.peak_mb:.0f}",
            "-" if r.ratio is None else f"{r.ratio:.3f}",
            r.target or "-",
            r.meets_target or "-",
        )
        for r in rows
    ]
    widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
    right = {2, 3, 4, 6, 7, 8, 9}
    out = []
    for n, line in enumerate(lines):
        out.append(
            "  ".join(
                cell.rjust(w) if k in right else cell.ljust(w)
                for k, (cell, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# ---------------------------------------------------------------- workloads


def _noop(*args) -> None:
    return None


def _weights(hidden: int, dtype=np.float64):
    from stochlstm.core.weights import init_uniform

    return init_uniform(INPUT_SIZE, hidden, seed=0).astype(dtype)


def _inputs(steps: int, batch: int | None, dtype=np.float32) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64(12345))
    shape = (steps, INPUT_SIZE) if batch is None else (steps, batch, INPUT_SIZE)
    return rng.standard_normal(shape).astype(dtype)


def _run_group(weights, inputs, condition, seeds, dtype, group, cancelled) -> None:
    from stochlstm.engine.kernel import run_kernel

    group_inputs = inputs[:, group] if inputs.ndim == 3 else inputs
    run_kernel(weights, group_inputs, condition, seeds[group], _noop, dtype=dtype)


def kernel_call(weights, inputs, condition, batch: int, dtype, threads: int = 1):
    """``run_kernel`` with a no-op consumer over ``batch`` seeds, in ``threads``
    groups of seeds at once, as ``stochlstm run`` runs a batch."""
    from stochlstm.engine.threads import run_in_threads, seed_groups

    seeds = list(range(batch))
    groups = seed_groups(batch, threads, weights.hidden_size)

    def run(steps=None):
        x = inputs if steps is None else inputs[:steps]
        run_in_threads(
            [partial(_run_group, weights, x, condition, seeds, dtype, g) for g in groups], threads
        )

    return run


def torch_lstm(torch, weights):
    """``torch.nn.LSTM`` holding ``weights`` (float32)."""
    lstm = torch.nn.LSTM(weights.input_size, weights.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").copy_(
                torch.from_numpy(np.asarray(getattr(weights, name), dtype=np.float32))
            )
    return lstm.eval()


def torch_forward(torch, lstm, inputs: np.ndarray):
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))

    def run(steps=None):
        with torch.no_grad():
            lstm(x if steps is None else x[:steps])

    return run


def torch_bernoulli_loop(torch, weights, inputs: np.ndarray):
    """The obvious PyTorch stochastic LSTM: a Python loop over steps, gates with
    torch ops, ``torch.bernoulli`` on the input, forget and output gates."""
    w_ih = torch.from_numpy(np.asarray(weights.weight_ih, dtype=np.float32))
    w_hh = torch.from_numpy(np.asarray(weights.weight_hh, dtype=np.float32))
    bias = torch.from_numpy(np.asarray(weights.bias_ih + weights.bias_hh, dtype=np.float32))
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
    hidden = weights.hidden_size

    def run(steps=None):
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            batch = x.shape[1]
            h = torch.zeros(batch, hidden)
            c = torch.zeros(batch, hidden)
            for t in range(x.shape[0] if steps is None else steps):
                gates = x[t] @ w_ih.T + h @ w_hh.T + bias
                a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)
                p_i, p_f, p_o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o)
                g = torch.tanh(a_g)
                i = torch.bernoulli(p_i, generator=generator)
                f = torch.bernoulli(p_f, generator=generator)
                o = torch.bernoulli(p_o, generator=generator)
                c = f * c + i * g
                h = o * torch.tanh(c)
        return h

    return run


def uniforms_alone(batch: int, hidden: int, steps: int, dtype, threads: int = 1):
    """Draw the three gate streams' uniforms exactly as the kernel does: same
    generators, same block sizes, same seed groups in threads (includes
    creating the generators)."""
    from stochlstm.core.randomness import SeedBatchNoise
    from stochlstm.engine.kernel import noise_block_steps
    from stochlstm.engine.threads import run_in_threads, seed_groups

    seeds = list(range(batch))
    groups = seed_groups(batch, threads, hidden)
    block = noise_block_steps(len(GATE_STREAMS), hidden, groups[0].stop, steps)

    def draw(group, n_steps, cancelled):
        noise = SeedBatchNoise(0, seeds[group], GATE_STREAMS, hidden, dtype)
        size = noise_block_steps(len(GATE_STREAMS), hidden, noise.batch_size, steps)
        for start in range(0, n_steps, size):
            noise.next_block(min(size, n_steps - start))

    def run(n_steps=None):
        n_steps = steps if n_steps is None else n_steps
        run_in_threads([partial(draw, g, n_steps) for g in groups], threads)

    return run, block


# ---------------------------------------------------------------- 1. deterministic


def det_time(
    report: Report, batch: int, hidden: int, steps: int, shared: bool, threads: int
) -> Timing:
    """The deterministic kernel, float32 (cached: benchmark 2 reuses it)."""
    from stochlstm.core.conditions import Condition

    key = ("det", batch, hidden, steps, shared, threads)
    if key not in report.cache:
        weights = _weights(hidden)
        inputs = _inputs(steps, None if shared else batch)
        call = kernel_call(weights, inputs, Condition(), batch, np.float32, threads)
        report.cache[key] = measure(call, warmup=lambda: call(min(steps, WARMUP_STEPS)))
    return report.cache[key]


def torch_time(report: Report, batch: int, hidden: int, steps: int, threads: int) -> Timing | None:
    """torch.nn.LSTM's forward on ``threads`` threads (cached: benchmark 4 reuses it)."""
    torch = torch_or_none()
    if torch is None:
        return None
    key = ("torch", batch, hidden, steps, threads)
    if key not in report.cache:
        set_torch_threads(threads)
        run = torch_forward(torch, torch_lstm(torch, _weights(hidden)), _inputs(steps, batch))
        report.cache[key] = measure(run, warmup=lambda: run(min(steps, WARMUP_STEPS)))
    return report.cache[key]


def bench_deterministic(report: Report, sizes: dict) -> None:
    hidden, steps = sizes["hidden"], sizes["steps"]
    if torch_or_none() is None:
        report.note(
            "deterministic: torch is not installed; the torch.nn.LSTM comparison is skipped"
        )
    for batch in sizes["batches"]:
        for threads in thread_counts():
            reference = torch_time(report, batch, hidden, steps, threads)
            if reference is not None:
                timed_row(
                    report,
                    "deterministic",
                    f"torch.nn.LSTM forward, no_grad, {threads} thr",
                    batch,
                    hidden,
                    steps,
                    "float32",
                    reference,
                )
            variants = [(False, "per-seed inputs (T,B,X)")]
            if threads == 1:
                variants.append((True, "shared inputs (T,X)"))
            for shared, label in variants:
                timing = det_time(report, batch, hidden, steps, shared, threads)
                row = timed_row(
                    report,
                    "deterministic",
                    f"stochlstm kernel, {threads} thr, {label}",
                    batch,
                    hidden,
                    steps,
                    "float32",
                    timing,
                )
                if reference is not None:
                    compare(row, timing.seconds / reference.seconds, "<=", 1.0, "stochlstm / torch")


# ---------------------------------------------------------------- 2. bernoulli


def bench_bernoulli(report: Report, sizes: dict) -> None:
    from stochlstm.core.conditions import Condition

    hidden = sizes["hidden"]
    torch = torch_or_none()
    if torch is None:
        report.note(
            "bernoulli: torch is not installed; the torch.bernoulli loop comparison is skipped"
        )
    for batch, steps in sizes["runs"]:
        weights = _weights(hidden)
        inputs = _inputs(steps, batch)
        for threads in thread_counts():
            det = det_time(report, batch, hidden, steps, False, threads)
            timed_row(
                report,
                "bernoulli",
                f"deterministic kernel, {threads} thr",
                batch,
                hidden,
                steps,
                "float32",
                det,
            )

            draw, block = uniforms_alone(batch, hidden, steps, np.float32, threads)
            uniforms = measure(draw, warmup=partial(draw, min(steps, 2 * block)))
            timed_row(
                report,
                "bernoulli",
                f"uniforms alone, {threads} thr ({block} step(s)/block)",
                batch,
                hidden,
                steps,
                "float32",
                uniforms,
            )

            call = kernel_call(weights, inputs, Condition("bernoulli"), batch, np.float32, threads)
            bern = measure(call, warmup=partial(call, min(steps, WARMUP_STEPS)))
            row = timed_row(
                report,
                "bernoulli",
                f"stochlstm kernel, {threads} thr, bernoulli i/f/o",
                batch,
                hidden,
                steps,
                "float32",
                bern,
            )
            compare(
                row,
                bern.seconds / (det.seconds + 1.2 * uniforms.seconds),
                "<=",
                1.0,
                "bernoulli / (deterministic + 1.2 x uniforms)",
            )
            report.note(
                f"bernoulli B={batch}, {threads} thr: bernoulli - deterministic = "
                f"{bern.seconds - det.seconds:.2f} s; uniforms alone {uniforms.seconds:.2f} s "
                f"({100 * uniforms.seconds / bern.seconds:.0f}% of the bernoulli run)"
            )
            if torch is not None:
                set_torch_threads(threads)
                loop = torch_bernoulli_loop(torch, weights, inputs)
                loop_timing = measure(loop, warmup=partial(loop, min(steps, WARMUP_STEPS)))
                row = timed_row(
                    report,
                    "bernoulli",
                    f"torch step loop + torch.bernoulli, {threads} thr",
                    batch,
                    hidden,
                    steps,
                    "float32",
                    loop_timing,
                )
                compare(
                    row,
                    loop_timing.seconds / bern.seconds,
                    ">=",
                    3.0,
                    "torch loop / stochlstm bernoulli",
                )


# ---------------------------------------------------------------- 3. vectorised


def bench_vectorised(report: Report, sizes: dict) -> None:
    from stochlstm.core.cell import unroll
    from stochlstm.core.conditions import Condition
    from stochlstm.core.randomness import uniforms
    from stochlstm.engine.simulate import simulate

    n_seeds, hidden, steps = sizes["seeds"], sizes["hidden"], sizes["steps"]
    weights = _weights(hidden)
    inputs = _inputs(steps, None, np.float64)
    condition = Condition("bernoulli")
    streams = sorted(condition.noise_streams, key=GATE_STREAMS.index)
    seeds = list(range(n_seeds))
    zeros = np.zeros((1, hidden))
    per_seed_inputs = inputs[:, None, :]

    def loop(subset):
        for seed in subset:
            draws = {s: uniforms(0, seed, s, steps, hidden)[:, None, :] for s in streams}
            unroll(weights, per_seed_inputs, zeros, zeros, condition, draws)

    # The loop and the kernel compute the same numbers (checked on two seeds).
    kept = simulate(weights, inputs, condition, seeds[:2], dtype=np.float64)
    draws = {s: uniforms(0, 1, s, steps, hidden)[:, None, :] for s in streams}
    reference = unroll(weights, per_seed_inputs, zeros, zeros, condition, draws)
    if not np.allclose(kept["condition"]["h"][:, 1], reference["h"][:, 0], rtol=0, atol=1e-12):
        report.note("vectorised: WARNING the kernel and the per-seed loop disagree on seed 1")

    kernels = {}
    for threads in thread_counts():
        call = kernel_call(weights, inputs, condition, n_seeds, np.float64, threads)
        kernels[threads] = timed_row(
            report,
            "vectorised",
            f"stochlstm kernel, {threads} thr, bernoulli, no-op consumer",
            n_seeds,
            hidden,
            steps,
            "float64",
            measure(call),
        )
    keep_all = measure(lambda: simulate(weights, inputs, condition, seeds, dtype=np.float64))
    timed_row(
        report,
        "vectorised",
        "simulate() (keeps every quantity), default threads",
        n_seeds,
        hidden,
        steps,
        "float64",
        keep_all,
    )

    probe = min(n_seeds, 20)
    first = measure(lambda: loop(seeds[:probe]), warmup=lambda: loop(seeds[:2]))
    projected = first.seconds * n_seeds / probe
    if projected <= sizes["loop_budget"] or probe == n_seeds:
        timing = measure(lambda: loop(seeds), warmup=lambda: None) if probe < n_seeds else first
        label, note = "per-seed loop over cell.unroll", ""
    else:
        timing = Timing(projected, first.repeats, first.peak_mb)
        label = f"per-seed loop over cell.unroll (extrapolated from {probe})"
        note = f"extrapolated: best of {first.repeats} over {probe} seeds x {n_seeds / probe:g}"
        report.note(f"vectorised: the per-seed loop time is {note}")
    row = timed_row(
        report, "vectorised", label, n_seeds, hidden, steps, "float64", timing, note=note
    )
    for threads, kernel in kernels.items():
        if threads != 1:
            row = timed_row(
                report, "vectorised", label, n_seeds, hidden, steps, "float64", timing, note=note
            )
        compare(row, timing.seconds / kernel.seconds, ">=", 50.0, f"loop / kernel {threads} thr")


# ---------------------------------------------------------------- 4. end to end


def _experiment_yaml(
    name: str,
    out_dir: Path,
    *,
    seeds: int,
    steps: int,
    hidden: int,
    every: int,
    dtype: str,
    conditions: dict[str, str],
    per_seed: bool,
    budget_mb: int,
) -> str:
    lines = [
        f"name: {name}",
        "description: stochlstm benchmark (benchmarks/bench.py)",
        f"seeds: {seeds}",
        "root_seed: 0",
        f"dtype: {dtype}",
        "model:",
        f"  input_size: {INPUT_SIZE}",
        f"  hidden_size: {hidden}",
        "  weights: {init: uniform, seed: 0}",
        f"inputs: {{kind: gaussian, steps: {steps}, seed: 0, per_seed: {str(per_seed).lower()}}}",
        "conditions:",
        *(f"  {cname}: {spec}" for cname, spec in conditions.items()),
        f"record: {{seeds: 2, every: {every}}}",
        f"output: {{dir: {json.dumps(str(out_dir))}, figures: false, format: csv}}",
        f"execution: {{batch_size: auto, memory_budget_mb: {budget_mb}, jobs: 1}}",
    ]
    return "\n".join(lines) + "\n"


def _cli_command() -> list[str]:
    script = Path(sys.executable).with_name("stochlstm")
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from stochlstm.cli import app; sys.argv[0] = 'stochlstm'; app()",
    ]


def run_cli(yaml_path: Path, out_dir: Path) -> tuple[float, float, dict, str]:
    """``stochlstm run`` in a child process: (wall seconds, peak RSS MB, manifest, output)."""
    log = yaml_path.with_suffix(".log")
    command = [*_cli_command(), "run", str(yaml_path), "--out", str(out_dir), "--no-figures"]
    with open(log, "w") as handle:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{text}")
    name = yaml_path.stem
    manifest = json.loads((out_dir / name / "manifest.json").read_text())
    return elapsed, usage.ru_maxrss / 1024, manifest, text  # ru_maxrss is in kB on Linux


def simulation_of(yaml_path: Path) -> Callable[[], None]:
    """The bare simulation of an experiment's plan: the kernel with a no-op
    consumer over the same seeds in the same batches and thread groups as
    ``stochlstm run`` (inputs built beforehand)."""
    from stochlstm.engine.kernel import run_kernel
    from stochlstm.engine.threads import run_in_threads, seed_groups, usable_cores
    from stochlstm.experiment.load import load_experiment
    from stochlstm.experiment.plan import plan_run

    plan = plan_run(load_experiment(yaml_path))
    threads = usable_cores()  # execution.threads auto, in-process
    work = []
    for index, task in enumerate(plan.tasks):
        point = plan.points[task.point]
        seeds = list(task.seeds)
        for group in seed_groups(len(seeds), threads, point.weights.hidden_size):
            inputs = np.asarray(point.inputs(seeds[group]), dtype=np.float64)
            work.append((index, point, seeds[group], inputs))

    def run_group(point, seeds, inputs, cancelled):
        run_kernel(
            point.weights,
            inputs,
            point.conditions,
            seeds,
            _noop,
            root_seed=point.root_seed,
            initial_state=point.initial_state,
            dtype=point.dtype,
        )

    def run():
        for index in dict.fromkeys(w[0] for w in work):
            run_in_threads([partial(run_group, *w[1:]) for w in work if w[0] == index], threads)

    run.plan = plan  # type: ignore[attr-defined]
    run.threads = threads  # type: ignore[attr-defined]
    return run


def bench_e2e(report: Report, sizes: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="stochlstm-bench-") as tmp:
        tmp = Path(tmp)
        _e2e_a(report, sizes["e2e_a"], tmp)
        _e2e_b(report, sizes["e2e_b"], tmp)


def _e2e_a(report: Report, s: dict, tmp: Path) -> None:
    name = "bench-e2e-many-seeds"
    path = tmp / f"{name}.yaml"
    path.write_text(
        _experiment_yaml(
            name,
            tmp / "results",
            seeds=s["seeds"],
            steps=s["steps"],
            hidden=s["hidden"],
            every=s["every"],
            dtype="float64",
            conditions={"deterministic": "{}", "bernoulli": "{gates: bernoulli}"},
            per_seed=False,
            budget_mb=512,
        )
    )
    wall, peak, manifest, _ = run_cli(path, tmp / "results")
    simulation = simulation_of(path)
    plan = simulation.plan
    report.note(
        f"e2e-a: {s['seeds']} seeds in {len(plan.tasks)} batch(es) of up to {plan.batch_size} "
        f"(execution.batch_size auto, memory_budget_mb 512); conditions deterministic + bernoulli; "
        f"record.every {s['every']}, record.seeds 2; summary.csv {manifest.get('rows', {}).get('summary.csv')} rows; "
        f"manifest elapsed {manifest.get('elapsed_seconds')} s (the wall time adds interpreter start-up and imports)"
    )
    sim = measure(simulation, warmup=lambda: None, max_repeats=1)
    timed_row(
        report,
        "e2e",
        f"bare simulation: kernel x batches, {simulation.threads} thr, no-op",
        s["seeds"],
        s["hidden"],
        s["steps"],
        "float64",
        sim,
        note="no warm-up (the CLI run just before warmed the machine)",
    )
    row = report.add(
        Row(
            "e2e",
            "stochlstm run (CLI subprocess): time",
            s["seeds"],
            s["hidden"],
            s["steps"],
            "float64",
            wall,
            peak,
            repeats="1",
        )
    )
    compare(row, wall / sim.seconds, "<=", 2.0, "run / simulation")
    row = report.add(
        Row(
            "e2e",
            "stochlstm run (CLI subprocess): peak RSS",
            s["seeds"],
            s["hidden"],
            s["steps"],
            "float64",
            wall,
            peak,
            repeats="1",
        )
    )
    compare(row, peak / 1024, "<", 1.0, "peak GB")


def _e2e_b(report: Report, s: dict, tmp: Path) -> None:
    name = "bench-e2e-long"
    path = tmp / f"{name}.yaml"
    path.write_text(
        _experiment_yaml(
            name,
            tmp / "results",
            seeds=s["seeds"],
            steps=s["steps"],
            hidden=s["hidden"],
            every=s["every"],
            dtype="float32",
            conditions={"deterministic": "{}"},
            per_seed=True,
            budget_mb=1024,
        )
    )
    wall, peak, manifest, _ = run_cli(path, tmp / "results")
    simulation = simulation_of(path)
    plan = simulation.plan
    report.note(
        f"e2e-b: {s['seeds']} seeds in {len(plan.tasks)} batch(es) of up to {plan.batch_size}; deterministic only; "
        f"per-seed gaussian inputs (T,B,X) as torch gets; summaries cover every {s['every']}th step "
        f"(record.every {s['every']}: {len(plan.points[0].record.steps)} recorded steps; every step would make "
        f"summary.csv {s['every']}x longer); summary.csv "
        f"{manifest.get('rows', {}).get('summary.csv')} rows; manifest elapsed {manifest.get('elapsed_seconds')} s"
    )
    sim = measure(simulation, warmup=lambda: None, max_repeats=1)
    timed_row(
        report,
        "e2e",
        f"bare simulation: kernel x batches, {simulation.threads} thr, no-op",
        s["seeds"],
        s["hidden"],
        s["steps"],
        "float32",
        sim,
        note="no warm-up",
    )
    reference = None
    for threads in thread_counts():
        reference = torch_time(report, s["seeds"], s["hidden"], s["steps"], threads)
        if reference is not None:
            timed_row(
                report,
                "e2e",
                f"torch.nn.LSTM forward, no_grad, {threads} thr",
                s["seeds"],
                s["hidden"],
                s["steps"],
                "float32",
                reference,
            )
    row = report.add(
        Row(
            "e2e",
            "stochlstm run (CLI subprocess): time",
            s["seeds"],
            s["hidden"],
            s["steps"],
            "float32",
            wall,
            peak,
            repeats="1",
        )
    )
    if reference is None:
        report.note("e2e-b: torch is not installed; the torch.nn.LSTM comparison is skipped")
        return
    compare(
        row, wall / reference.seconds, "<=", 2.0, f"run / torch forward {thread_counts()[-1]} thr"
    )


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke check in under a minute"
    )
    parser.add_argument(
        "--only", metavar="NAME[,NAME]", help=f"run only these benchmarks: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results.csv",
        help="the CSV to write (default benchmarks/results.csv); NAME.txt gets the machine and table",
    )
    args = parser.parse_args(argv)
    chosen = list(BENCHMARKS)
    if args.only:
        chosen = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(chosen) - set(BENCHMARKS))
        if unknown:
            parser.error(
                f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
            )
    sizes = QUICK if args.quick else FULL

    info = machine()  # before torch is imported: the BLAS found is numpy's
    inside = kernel_blas_threads()
    info["numpy BLAS threads"] += (
        f" globally; {inside if inside is not None else 'unknown'} inside run_kernel"
    )
    torch = torch_or_none()
    info["torch"] = torch.__version__ if torch else "not installed (torch comparisons skipped)"
    if torch:
        info["torch threads"] = f"{torch.get_num_threads()} by default"
    info["thread counts"] = (
        f"{', '.join(map(str, thread_counts()))}: each comparison runs torch and stochlstm "
        "on the same number of threads (stochlstm: seed groups, execution.threads)"
    )
    info["load average"] = _loadavg()
    info["baseline RSS"] = (
        f"{(_status_kb('VmRSS') or 0) / 1024:.0f} MB (this process, numpy and torch imported)"
    )
    info["mode"] = "quick (smoke-check sizes)" if args.quick else "full"
    header = "\n".join(f"{key:>18}: {value}" for key, value in info.items())
    print(header, flush=True)
    print(
        f"{'timing':>18}: best of N timed calls after one warm-up call (warm-up: the first "
        f"{WARMUP_STEPS} steps at the same batch); N = 3 under 5 s, 2 under 20 s, 1 beyond",
        flush=True,
    )

    report = Report()
    started = time.perf_counter()
    runners = {
        "deterministic": lambda: bench_deterministic(report, sizes["det"]),
        "bernoulli": lambda: bench_bernoulli(report, sizes["bern"]),
        "vectorised": lambda: bench_vectorised(report, sizes["vec"]),
        "e2e": lambda: bench_e2e(report, sizes),
    }
    for name in chosen:
        print(f"\n[{name}]", flush=True)
        runners[name]()
    total = time.perf_counter() - started
    if args.quick:
        report.notes.append(
            "quick sizes are a smoke check: the ratios are not the targets' sizes, and the CLI's "
            "start-up (about a second) dominates the e2e rows"
        )
    report.notes.append(
        f"load average (1, 5, 15 min) at the start: {info['load average']}; at the end: "
        f"{_loadavg()} (this machine may be shared: other load inflates times)"
    )

    table = print_table(report.rows)
    met = [r for r in report.rows if r.meets_target == "yes"]
    missed = [r for r in report.rows if r.meets_target == "no"]
    summary = f"targets met: {len(met)}, missed: {len(missed)}" + (
        "".join(
            f"\n  MISSED {r.benchmark}: {r.variant} (B={r.batch}): {r.target}, got {r.ratio:.3f}"
            for r in missed
        )
    )
    print("\n" + table)
    if report.notes:
        print("\nnotes:\n" + "\n".join(f"  - {n}" for n in report.notes))
    print(f"\n{summary}\ntotal benchmark time {total:.0f} s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(row.csv() for row in report.rows)
    text_path = args.out.with_suffix(".txt")
    text_path.write_text(
        "stochlstm benchmarks: "
        + time.strftime("%Y-%m-%d %H:%M:%S")
        + "\n"
        + header
        + f"\n{'command':>18}: python benchmarks/bench.py {' '.join(argv if argv is not None else sys.argv[1:])}\n\n"
        + table
        + "\n\nnotes:\n"
        + "\n".join(f"  - {n}" for n in report.notes)
        + f"\n\n{summary}\ntotal benchmark time {total:.0f} s\n"
    )
    print(f"wrote {args.out} and {text_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
