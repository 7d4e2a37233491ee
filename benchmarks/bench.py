"""stochlstm performance benchmarks: every target of issue 13, measured side by
side in one run on one machine, each printed as met or missed.

    python benchmarks/bench.py                    # everything (about 10 minutes on 2 cores)
    python benchmarks/bench.py --quick            # small sizes, a smoke check
    python benchmarks/bench.py --only recorder    # one benchmark (or its target number: --only 2)
    python benchmarks/bench.py --out /tmp/results.csv

Benchmarks (``--only`` names; the number is the issue-13 target they measure):

e2e (1)        ``stochlstm run`` (CLI subprocess) of 4,000 seeds x 1,000 steps x
               hidden 64, float32, one deterministic condition, recording c and h
               with one sample path, with and without figures, vs
               ``torch.nn.LSTM``'s forward on the same batch and thread count:
               <= 2.0x with figures, <= 1.5x without.
recorder (2)   ``run_kernel`` with a no-op consumer vs with ``BatchRecorder`` on the
               same batch: (with - without) / without <= 0.5.
tables (3)     ``write_tables`` on the e2e run's accumulator vs the whole run
               (simulation + tables, in this process): <= 10%.
figures (4)    ``stochlstm run experiments/answer-example.yaml`` with figures vs
               ``--no-figures``: <= 2x.
memory (5)     peak RSS of ``stochlstm run`` for several shapes: <= memory budget
               + 200 MB, or a refusal (exit 2 with a message) before allocating.
bernoulli (6)  bernoulli vs deterministic kernel vs the generator drawing as many
               float32 uniforms at its peak rate: (bernoulli - deterministic) /
               peak <= 1.3; and a torch step loop with ``torch.bernoulli`` (reference).
sweep (7)      ``stochlstm validate`` and ``stochlstm run --plan`` of a
               100,000-point sweep: under 5 s each (wall time, subprocess).
deterministic  the kernel vs ``torch.nn.LSTM``'s forward (not an issue-13 target).
vectorised     the kernel vs a per-seed Python loop over ``cell.unroll`` (not an
               issue-13 target).

Comparisons run on 1 thread and on every usable core, both sides on the same
count, where the thread count applies. Times are the best (minimum) of N
calls after one warm-up, the compared calls alternating (N = 3 while the
slowest takes under 5 s, 2 under 20 s, 1 beyond). The code under test is
reached only through its public functions and the CLI; a benchmark that
fails is reported as an error and the others still run.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gc
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
INPUT_SIZE = 8
WARMUP_STEPS = 50

FULL = {
    "det": {"batches": (1000, 4000), "hidden": 64, "steps": 1000},
    # (batch, steps): the 1,000 x 1,000, and a wide batch
    "bern": {"runs": ((1000, 1000), (4000, 200)), "hidden": 64},
    "vec": {"seeds": 1000, "hidden": 16, "steps": 100, "loop_budget": 60.0},
    "e2e": {"seeds": 4000, "steps": 1000, "hidden": 64},
    "figures": {"repeats": 3},
    "memory": {
        "long sequence": {"seeds": 256, "steps": 20_000, "hidden": 64, "budget": 512},
        "many conditions": {
            "seeds": 2000,
            "steps": 308,
            "hidden": 24,
            "input": 1,
            "conditions": 8,
            "budget": 256,
        },
        "many summary cells": {
            "seeds": 256,
            "steps": 400,
            "hidden": 32,
            "points": 4,
            "conditions": 3,
            "budget": 512,
        },
        "many seeds": {"seeds": 100_000, "steps": 100, "hidden": 16, "budget": 512},
    },
    "memory_timeout": 180.0,
    "sweep": {"temperatures": 1000, "weight_seeds": 100, "timeout": 30.0},
}
QUICK = {
    "det": {"batches": (256,), "hidden": 64, "steps": 100},
    "bern": {"runs": ((256, 100),), "hidden": 64},
    "vec": {"seeds": 200, "hidden": 16, "steps": 50, "loop_budget": 1.0},
    "e2e": {"seeds": 512, "steps": 200, "hidden": 64},
    "figures": {"repeats": 1},
    "memory": {
        "long sequence": {"seeds": 256, "steps": 500, "hidden": 64, "budget": 512},
        "many conditions": {
            "seeds": 256,
            "steps": 100,
            "hidden": 24,
            "input": 1,
            "conditions": 8,
            "budget": 256,
        },
        "many summary cells": {
            "seeds": 256,
            "steps": 100,
            "hidden": 16,
            "points": 2,
            "conditions": 3,
            "budget": 512,
        },
        "many seeds": {"seeds": 4000, "steps": 100, "hidden": 16, "budget": 512},
    },
    "memory_timeout": 60.0,
    "sweep": {"temperatures": 50, "weight_seeds": 4, "timeout": 30.0},
}
# A child run is stopped when its resident memory passes this (the machine may be shared).
RSS_LIMIT_MB = 4096


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


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """The machine and software the numbers come from (numpy's BLAS is looked
    up before torch is imported, so the library found is numpy's)."""
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

    packages = ("pandas", "pyarrow", "matplotlib", "seaborn", "torch")
    return {
        "cpu": model,
        "cores": f"{os.cpu_count()} logical, {usable_cores()} usable by this process",
        "load average": loadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS": blas,
        "numpy BLAS threads": str(threads) if threads is not None else "unknown",
        "stochlstm": f"{getattr(stochlstm, '__version__', '?')} ({Path(stochlstm.__file__).parent})",
        "packages": ", ".join(f"{name} {_version(name)}" for name in packages),
        "malloc settings": " ".join(
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k == "GLIBC_TUNABLES" or k.startswith("MALLOC_")
        )
        or "defaults",
        "platform": platform.platform(),
    }


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


def _reset_peak() -> bool:
    """Reset this process's peak-RSS mark (VmHWM); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


@dataclass
class Timing:
    seconds: float
    repeats: int
    peak_mb: float | None


def _keep_going(slowest: float, rounds: int) -> bool:
    """Another round? 3 while the slowest call takes under 5 s, 2 under 20 s, 1 beyond."""
    return slowest <= 5 or (slowest <= 20 and rounds < 2)


def alternate(
    calls: dict[str, Callable[[], object]],
    warmups: dict[str, Callable[[], object] | None] | None = None,
    max_repeats: int = 3,
    setup: Callable[[], object] | None = None,
) -> dict[str, Timing]:
    """Warm each call up once (``warmups[name]``, the call itself when absent,
    nothing when None), then time the calls in turn, round after round: the
    best of up to ``max_repeats`` rounds per call (see :func:`_keep_going`).
    ``setup`` runs, untimed, before every timed call. The peak is this
    process's resident memory during the call (mark reset before it)."""
    warmups = warmups or {}
    for name, call in calls.items():
        warmup = warmups.get(name, call)
        if warmup is not None:
            warmup()
    times: dict[str, list[float]] = {name: [] for name in calls}
    peaks: dict[str, float | None] = dict.fromkeys(calls)
    for rounds in range(1, max_repeats + 1):
        for name, call in calls.items():
            if setup is not None:
                setup()
            gc.collect()
            reset = _reset_peak()
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
            high = _status_kb("VmHWM")
            if reset and high is not None:
                peaks[name] = max(peaks[name] or 0.0, high / 1024)
        if not _keep_going(max(t[-1] for t in times.values()), rounds):
            break
    return {name: Timing(min(times[name]), len(times[name]), peaks[name]) for name in calls}


def measure(call, warmup=None, max_repeats: int = 3, setup=None) -> Timing:
    """One call timed as :func:`alternate` times several (``warmup=None``: the call itself)."""
    return alternate({"": call}, {"": warmup} if warmup else None, max_repeats, setup)[""]


# ---------------------------------------------------------------- commands


# Runs a command as its only child and reports it as JSON: wall seconds, exit
# code (None when stopped), the child's peak RSS from
# getrusage(RUSAGE_CHILDREN) (the maximum over this fresh process's children:
# the command alone), and the end of its output. The child is stopped past
# the timeout or when its resident memory passes the limit.
_RUN_AND_MEASURE = r"""
import json, resource, subprocess, sys, tempfile, time
timeout, limit_kb = float(sys.argv[1]), int(sys.argv[2])
log = tempfile.TemporaryFile()
start = time.perf_counter()
child = subprocess.Popen(sys.argv[3:], stdout=log, stderr=subprocess.STDOUT)
stopped = None
while child.poll() is None:
    time.sleep(0.02)
    try:
        with open(f"/proc/{child.pid}/status") as status:
            rss = next((int(l.split()[1]) for l in status if l.startswith("VmRSS:")), 0)
    except OSError:
        rss = 0
    if time.perf_counter() - start > timeout:
        stopped = f"stopped after {timeout:g} s"
    elif rss > limit_kb:
        stopped = f"stopped at {rss / 1024:.0f} MB resident"
    if stopped:
        child.kill()
        child.wait()
        break
seconds = time.perf_counter() - start
log.seek(0)
print(json.dumps({
    "seconds": seconds,
    "returncode": None if stopped else child.returncode,
    "stopped": stopped,
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "output": log.read().decode(errors="replace")[-4000:],
}))
"""


@dataclass
class CommandRun:
    """A finished (or stopped) command: wall seconds, exit code, peak RSS, output."""

    command: list[str]
    seconds: float
    returncode: int | None
    stopped: str | None
    peak_mb: float
    output: str
    repeats: int = 1  # of which this run is the fastest

    def timing(self) -> Timing:
        return Timing(self.seconds, self.repeats, self.peak_mb)

    @property
    def errors(self) -> str:
        """The output's ``error:`` lines (else its last line), joined."""
        lines = [line.strip() for line in self.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        return " / ".join(errors or lines[-1:])

    def check(self) -> CommandRun:
        if self.returncode != 0:
            raise RuntimeError(
                f"{' '.join(self.command)}: {self.stopped or f'exit {self.returncode}'}\n"
                f"{self.output}"
            )
        return self


def cli() -> list[str]:
    """The ``stochlstm`` command (the console script beside this Python, else ``-m``-style)."""
    script = Path(sys.executable).with_name("stochlstm")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from stochlstm.cli import main; main()"]


def run_command(
    command: list[str], timeout: float = 600.0, rss_limit_mb: float = RSS_LIMIT_MB
) -> CommandRun:
    """Run ``command`` from a fresh Python that has no other child, so that its
    ``RUSAGE_CHILDREN`` peak is the command's own."""
    wrapper = [sys.executable, "-c", _RUN_AND_MEASURE, str(timeout), str(int(rss_limit_mb * 1024))]
    done = subprocess.run([*wrapper, *command], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return CommandRun(command=command, **result)


def alternate_commands(commands: dict[str, list[str]], repeats: int) -> dict[str, CommandRun]:
    """Each command's fastest run: the commands in turn, ``repeats`` rounds
    (fewer when the slowest takes over 5 s, see :func:`_keep_going`)."""
    best: dict[str, CommandRun] = {}
    for rounds in range(1, repeats + 1):
        slowest = 0.0
        for name, command in commands.items():
            done = run_command([part.replace("{round}", str(rounds)) for part in command]).check()
            slowest = max(slowest, done.seconds)
            if name not in best or done.seconds < best[name].seconds:
                best[name] = done
        if not _keep_going(slowest, rounds):
            break
    for done in best.values():
        done.repeats = rounds
    return best


def write_experiment(directory: Path, spec: dict) -> Path:
    path = directory / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100))
    return path


def plan_of(path: Path):
    from stochlstm.experiment.load import load_experiment
    from stochlstm.experiment.plan import plan_run

    return plan_run(load_experiment(path))


# ---------------------------------------------------------------- results


@dataclass
class Row:
    """One measurement."""

    benchmark: str
    variant: str
    shape: str
    threads: str
    seconds: float | None
    repeats: int | None = None
    peak_mb: float | None = None
    note: str = ""


@dataclass
class Verdict:
    """One target: what it bounds, the measured value, and whether it is met."""

    number: str  # the issue-13 target ("1".."7"), or "-" for the other targets
    target: str  # what is bounded, and the bound
    threads: str
    measured: str  # the value the bound applies to, and what it is made of
    met: str  # met, missed or error

    def line(self) -> tuple[str, ...]:
        return (self.number, self.target, self.threads, self.measured, self.met)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def timed(self, benchmark, variant, shape, threads, timing: Timing, note="") -> Row:
        row = Row(benchmark, variant, shape, str(threads), timing.seconds, timing.repeats)
        row.peak_mb, row.note = timing.peak_mb, note
        self.rows.append(row)
        peak = "" if row.peak_mb is None else f"  peak {row.peak_mb:.0f} MB"
        print(
            f"  {variant:<58} {shape:<26} {row.threads:>4} thr "
            f"{_seconds(row.seconds):>9} N={row.repeats or '-'}{peak}",
            flush=True,
        )
        return row

    def verdict(
        self, number: str, target: str, threads, value: float, op: str, bound: float, detail: str
    ) -> Verdict:
        met = value <= bound if op == "<=" else value >= bound if op == ">=" else value < bound
        measured = f"{value:.3f} ({detail})"
        verdict = Verdict(
            number, f"{target} {op} {bound:g}", str(threads), measured, "met" if met else "missed"
        )
        return self.judge(verdict)

    def judge(self, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        print(f"      -> {verdict.target}: {verdict.measured}: {verdict.met.upper()}", flush=True)
        return verdict

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} s" if value < 100 else f"{value:.1f} s"


def shape_text(seeds: int, steps: int, hidden: int, dtype: str = "float32") -> str:
    return f"{seeds} x {steps} x H{hidden} {'f32' if dtype == 'float32' else 'f64'}"


def format_table(header: tuple[str, ...], lines: list[tuple[str, ...]], right=()) -> str:
    lines = [header, *lines]
    widths = [max(len(line[k]) for line in lines) for k in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = (
            cell.rjust(w) if k in right else cell.ljust(w)
            for k, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def measurements_table(rows: list[Row]) -> str:
    header = ("benchmark", "variant", "shape", "threads", "seconds", "N", "peak MB")
    lines = [
        (
            r.benchmark,
            r.variant,
            r.shape,
            r.threads,
            _seconds(r.seconds),
            str(r.repeats or "-"),
            "-" if r.peak_mb is None else f"{r.peak_mb:.0f}",
        )
        for r in rows
    ]
    return format_table(header, lines, right={3, 4, 5, 6})


def targets_table(verdicts: list[Verdict]) -> str:
    ordered = sorted(verdicts, key=lambda v: (v.number == "-", v.number))
    header = ("#", "target", "threads", "measured", "met/missed")
    return format_table(header, [v.line() for v in ordered])


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
    groups of seeds at once, as ``stochlstm run`` runs a batch; the call takes
    an optional number of steps (a warm-up runs the first few)."""
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


def generator_peak(n_streams: int, per_stream: int, threads: int):
    """numpy's generator at its peak rate: per stream, one
    ``Generator(PCG64(...)).random(n, dtype=float32, out=buffer)`` call (on
    ``threads`` threads, each stream in as many equal parts, one generator
    each); ``n_streams * per_stream`` float32 uniforms in all. Returns the call
    and a function that releases the pool and buffer."""
    sizes = [per_stream // threads + (k < per_stream % threads) for k in range(threads)]
    buffers = [np.empty(n, dtype=np.float32) for n in sizes]
    generators = [
        [np.random.Generator(np.random.PCG64([stream, k])) for k in range(threads)]
        for stream in range(n_streams)
    ]
    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def draw(stream: int, k: int) -> None:
        generators[stream][k].random(sizes[k], dtype=np.float32, out=buffers[k])

    def run() -> None:
        for stream in range(n_streams):
            if pool is None:
                draw(stream, 0)
            else:
                list(pool.map(partial(draw, stream), range(threads)))

    def close() -> None:
        if pool is not None:
            pool.shutdown()
        buffers.clear()

    return run, close


# ---------------------------------------------------------------- deterministic (not issue 13)


def torch_reference(weights, inputs: np.ndarray, threads: int):
    """``torch.nn.LSTM``'s forward on ``threads`` threads, float32 (None without torch)."""
    torch = torch_or_none()
    if torch is None:
        return None
    set_torch_threads(threads)
    return torch_forward(torch, torch_lstm(torch, weights), inputs)


def bench_deterministic(report: Report, sizes: dict, tmp: Path) -> None:
    from stochlstm.core.conditions import Condition

    s = sizes["det"]
    hidden, steps = s["hidden"], s["steps"]
    if torch_or_none() is None:
        report.note("deterministic: torch is not installed; the comparison is skipped")
    for batch in s["batches"]:
        shape = shape_text(batch, steps, hidden)
        weights, per_seed = _weights(hidden), _inputs(steps, batch)
        for threads in thread_counts():
            calls = {
                "per-seed inputs (T,B,X)": kernel_call(
                    weights, per_seed, Condition(), batch, np.float32, threads
                )
            }
            if threads == 1 and batch == s["batches"][0]:
                shared = _inputs(steps, None)
                calls["shared inputs (T,X)"] = kernel_call(
                    weights, shared, Condition(), batch, np.float32, threads
                )
            reference = torch_reference(weights, per_seed, threads)
            if reference is not None:
                calls["torch"] = reference
            warm = min(steps, WARMUP_STEPS)
            timings = alternate(calls, {name: partial(call, warm) for name, call in calls.items()})
            torch_timing = timings.pop("torch", None)
            if torch_timing is not None:
                report.timed(
                    "deterministic", "torch.nn.LSTM forward, no_grad", shape, threads, torch_timing
                )
            for label, timing in timings.items():
                report.timed("deterministic", f"stochlstm kernel, {label}", shape, threads, timing)
                if torch_timing is not None:
                    report.verdict(
                        "-",
                        f"kernel {shape}, {label} / torch forward",
                        threads,
                        timing.seconds / torch_timing.seconds,
                        "<=",
                        1.0,
                        f"{timing.seconds:.2f} s / {torch_timing.seconds:.2f} s",
                    )


# ---------------------------------------------------------------- 6. bernoulli


def bench_bernoulli(report: Report, sizes: dict, tmp: Path) -> None:
    from stochlstm.core.conditions import Condition

    hidden = sizes["bern"]["hidden"]
    bernoulli = Condition("bernoulli")
    n_streams = len(bernoulli.noise_streams)
    torch = torch_or_none()
    for n, (batch, steps) in enumerate(sizes["bern"]["runs"]):
        shape = shape_text(batch, steps, hidden)
        weights, inputs = _weights(hidden), _inputs(steps, batch)
        warm = min(steps, WARMUP_STEPS)
        for threads in thread_counts():
            det = kernel_call(weights, inputs, Condition(), batch, np.float32, threads)
            bern = kernel_call(weights, inputs, bernoulli, batch, np.float32, threads)
            peak, close = generator_peak(n_streams, batch * steps * hidden, threads)
            try:
                timings = alternate(
                    {"deterministic": det, "bernoulli": bern, "peak": peak},
                    {"deterministic": partial(det, warm), "bernoulli": partial(bern, warm)},
                )
            finally:
                close()
            report.timed(
                "bernoulli", "deterministic kernel", shape, threads, timings["deterministic"]
            )
            report.timed(
                "bernoulli", "bernoulli kernel (i, f, o)", shape, threads, timings["bernoulli"]
            )
            report.timed(
                "bernoulli",
                f"generator peak: {n_streams} x Generator.random(n, float32, out=)",
                shape,
                threads,
                timings["peak"],
            )
            extra = timings["bernoulli"].seconds - timings["deterministic"].seconds
            report.verdict(
                "6",
                f"bernoulli {shape}: (bernoulli - deterministic) / generator peak",
                threads,
                extra / timings["peak"].seconds,
                "<=",
                1.3,
                f"({timings['bernoulli'].seconds:.2f} - {timings['deterministic'].seconds:.2f}) s "
                f"/ {timings['peak'].seconds:.2f} s",
            )
            if torch is not None and n == 0:
                set_torch_threads(threads)
                loop = torch_bernoulli_loop(torch, weights, inputs)
                timing = measure(loop, warmup=partial(loop, warm), max_repeats=1)
                report.timed(
                    "bernoulli", "torch step loop + torch.bernoulli", shape, threads, timing
                )
                report.note(
                    f"bernoulli {shape}, {threads} thr: the torch step loop takes "
                    f"{timing.seconds / timings['bernoulli'].seconds:.2f}x the bernoulli kernel"
                )


# ---------------------------------------------------------------- vectorised (not issue 13)


def bench_vectorised(report: Report, sizes: dict, tmp: Path) -> None:
    from stochlstm.core.cell import unroll
    from stochlstm.core.conditions import Condition
    from stochlstm.core.randomness import uniforms
    from stochlstm.engine.simulate import simulate

    s = sizes["vec"]
    n_seeds, hidden, steps = s["seeds"], s["hidden"], s["steps"]
    shape = shape_text(n_seeds, steps, hidden, "float64")
    weights = _weights(hidden)
    inputs = _inputs(steps, None, np.float64)
    condition = Condition("bernoulli")
    streams = list(condition.noise_streams)
    seeds = list(range(n_seeds))
    zeros = np.zeros((1, hidden))
    per_seed_inputs = inputs[:, None, :]

    def loop(subset):
        for seed in subset:
            draws = {s: uniforms(0, seed, s, steps, hidden)[:, None, :] for s in streams}
            unroll(weights, per_seed_inputs, zeros, zeros, condition, draws)

    # The loop and the kernel compute the same numbers (checked on one seed).
    kept = simulate(weights, inputs, condition, seeds[:2], dtype=np.float64)
    draws = {s: uniforms(0, 1, s, steps, hidden)[:, None, :] for s in streams}
    reference = unroll(weights, per_seed_inputs, zeros, zeros, condition, draws)
    if not np.allclose(kept["condition"]["h"][:, 1], reference["h"][:, 0], rtol=0, atol=1e-12):
        report.note("vectorised: WARNING the kernel and the per-seed loop disagree on seed 1")

    kernels = {}
    for threads in thread_counts():
        call = kernel_call(weights, inputs, condition, n_seeds, np.float64, threads)
        kernels[threads] = measure(call)
        report.timed(
            "vectorised", "bernoulli kernel, no-op consumer", shape, threads, kernels[threads]
        )
    keep_all = measure(lambda: simulate(weights, inputs, condition, seeds, dtype=np.float64))
    report.timed("vectorised", "simulate() (keeps every quantity)", shape, "auto", keep_all)

    probe = min(n_seeds, 20)
    first = measure(lambda: loop(seeds[:probe]), warmup=lambda: loop(seeds[:2]))
    projected = first.seconds * n_seeds / probe
    label = "per-seed loop over cell.unroll"
    if projected <= s["loop_budget"] or probe == n_seeds:
        timing = measure(lambda: loop(seeds), warmup=_noop) if probe < n_seeds else first
    else:
        timing = Timing(projected, first.repeats, first.peak_mb)
        label += f" (extrapolated from {probe} seeds)"
    report.timed("vectorised", label, shape, 1, timing)
    for threads, kernel in kernels.items():
        report.verdict(
            "-",
            f"per-seed loop / kernel {shape}",
            threads,
            timing.seconds / kernel.seconds,
            ">=",
            50.0,
            f"{timing.seconds:.2f} s / {kernel.seconds:.3f} s",
        )


# ---------------------------------------------------------------- the e2e experiment


def e2e_experiment(tmp: Path, s: dict) -> Path:
    """Issue 13's run: one deterministic condition, per-seed gaussian inputs
    (the ``(T, B, X)`` tensor torch gets), c and h recorded at every step with
    every derived quantity and one sample path, float32."""
    return write_experiment(
        tmp,
        {
            "name": "bench-e2e",
            "description": "stochlstm benchmark (benchmarks/bench.py): issue 13's run",
            "seeds": s["seeds"],
            "root_seed": 0,
            "dtype": "float32",
            "model": {
                "input_size": INPUT_SIZE,
                "hidden_size": s["hidden"],
                "weights": {"init": "uniform", "seed": 0},
            },
            "inputs": {"kind": "gaussian", "steps": s["steps"], "seed": 0, "per_seed": True},
            "conditions": {"deterministic": {}},
            # every derived quantity, as when the targets were set (the default, auto,
            # now keeps only those formed from c and h)
            "record": {"quantities": ["c", "h"], "derived": "all", "seeds": 1, "every": 1},
            "output": {"dir": str(tmp / "results"), "format": "csv"},
        },
    )


# ---------------------------------------------------------------- 1. end to end


def bench_e2e(report: Report, sizes: dict, tmp: Path) -> None:
    s = sizes["e2e"]
    shape = shape_text(s["seeds"], s["steps"], s["hidden"])
    path = e2e_experiment(tmp, s)
    start_up = run_command([*cli(), "--help"]).check()
    report.timed("e2e", "CLI start-up: stochlstm --help", "-", "-", start_up.timing())
    weights, inputs = _weights(s["hidden"]), _inputs(s["steps"], s["seeds"])
    for threads in thread_counts():
        forward = torch_reference(weights, inputs, threads)
        if forward is not None:
            torch_timing = measure(forward, warmup=partial(forward, WARMUP_STEPS))
            report.timed("e2e", "torch.nn.LSTM forward, no_grad", shape, threads, torch_timing)
        out = str(tmp / f"e2e-{threads}-{{round}}")
        base = [*cli(), "run", str(path), "--threads", str(threads), "--out"]
        runs = alternate_commands(
            {
                "figures": [*base, out + "-figures", "--figures"],
                "no figures": [*base, out + "-no-figures", "--no-figures"],
            },
            repeats=1,
        )
        for label, bound in (("figures", 2.0), ("no figures", 1.5)):
            run = runs[label]
            report.timed("e2e", f"stochlstm run, {label} (CLI)", shape, threads, run.timing())
            if forward is not None:
                report.verdict(
                    "1",
                    f"stochlstm run {shape}, {label} / torch forward",
                    threads,
                    run.seconds / torch_timing.seconds,
                    "<=",
                    bound,
                    f"{run.seconds:.2f} s / {torch_timing.seconds:.2f} s",
                )
        for directory in tmp.glob(f"e2e-{threads}-*"):
            shutil.rmtree(directory, ignore_errors=True)
    if torch_or_none() is None:
        report.note("e2e: torch is not installed; the torch.nn.LSTM comparison is skipped")
    report.note(
        f"e2e: the run's wall time includes the CLI's start-up ({start_up.seconds:.1f} s for "
        "stochlstm --help here); figures in the experiment's default formats (png, pdf)"
    )


# ---------------------------------------------------------------- 2. recorder


def bench_recorder(report: Report, sizes: dict, tmp: Path) -> None:
    from stochlstm.engine.kernel import run_kernel
    from stochlstm.engine.threads import run_in_threads, seed_groups

    s = sizes["e2e"]
    shape = shape_text(s["seeds"], s["steps"], s["hidden"])
    plan = plan_of(e2e_experiment(tmp, s))
    point = plan.points[0]
    inputs = {task.batch: point.inputs(list(task.seeds)) for task in plan.tasks}

    def group(seeds, inputs, record: bool, steps: int | None, cancelled) -> None:
        consumer = point.recorder(seeds) if record else _noop
        run_kernel(
            point.weights,
            inputs if steps is None else inputs[:steps],
            point.conditions,
            seeds,
            consumer,
            root_seed=point.root_seed,
            initial_state=point.initial_state,
            dtype=np.dtype(point.dtype),
        )

    def over_plan(threads: int, record: bool, steps: int | None = None) -> None:
        """The plan's batches of seeds, each in groups on ``threads`` threads, as ``run_task``."""
        for task in plan.tasks:
            seeds, x = list(task.seeds), inputs[task.batch]
            calls = [
                partial(group, seeds[g], x[:, g] if x.ndim == 3 else x, record, steps)
                for g in seed_groups(len(seeds), threads, point.weights.hidden_size)
            ]
            run_in_threads(calls, threads)

    warm = min(s["steps"], WARMUP_STEPS)
    for threads in thread_counts():
        timings = alternate(
            {
                "no-op": partial(over_plan, threads, False),
                "recorder": partial(over_plan, threads, True),
            },
            {
                "no-op": partial(over_plan, threads, False, warm),
                "recorder": partial(over_plan, threads, True, warm),
            },
        )
        without, with_ = timings["no-op"], timings["recorder"]
        report.timed("recorder", "run_kernel, no-op consumer", shape, threads, without)
        report.timed("recorder", "run_kernel, BatchRecorder (c, h, derived)", shape, threads, with_)
        report.verdict(
            "2",
            f"recorder {shape}: (with - without) / without",
            threads,
            (with_.seconds - without.seconds) / without.seconds,
            "<=",
            0.5,
            f"({with_.seconds:.2f} - {without.seconds:.2f}) s / {without.seconds:.2f} s",
        )
    report.note(
        f"recorder: {len(plan.tasks)} batch(es) of up to {plan.batch_size} seeds, "
        f"quantities {', '.join(point.record.quantities)} + derived "
        f"{', '.join(point.record.derived) or 'none'} (those that apply to the condition)"
    )


# ---------------------------------------------------------------- 3. tables


def bench_tables(report: Report, sizes: dict, tmp: Path) -> None:
    from stochlstm.experiment.run import run_task
    from stochlstm.experiment.tables import Accumulator, write_tables

    s = sizes["e2e"]
    shape = shape_text(s["seeds"], s["steps"], s["hidden"])
    plan = plan_of(e2e_experiment(tmp, s))
    simulations = {}
    accumulator = None
    for threads in thread_counts():

        def simulate(threads=threads):
            nonlocal accumulator
            accumulator = Accumulator()
            for task in plan.tasks:
                accumulator.fold(task, run_task(plan.points[task.point], task.seeds, threads))

        simulations[threads] = measure(simulate, warmup=_noop, max_repeats=1)
        report.timed(
            "tables",
            "simulation: run_task + Accumulator.fold",
            shape,
            threads,
            simulations[threads],
        )

    work_dir = tmp / "tables"

    def fresh_dir() -> None:
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir()

    outputs = {}

    def write() -> None:
        outputs.update(write_tables(work_dir, plan, accumulator))

    tables = measure(write, warmup=_noop, setup=fresh_dir)
    rows = ", ".join(f"{name} {_rows(value)} rows" for name, value in outputs.items())
    report.timed("tables", "write_tables (summary + trajectories)", shape, 1, tables, note=rows)
    shutil.rmtree(work_dir, ignore_errors=True)
    for threads, simulation in simulations.items():
        run = simulation.seconds + tables.seconds
        report.verdict(
            "3",
            f"tables {shape}: write_tables / (simulation + write_tables)",
            threads,
            tables.seconds / run,
            "<=",
            0.10,
            f"{tables.seconds:.2f} s / {run:.2f} s",
        )
    report.note(f"tables: {rows}; the run is timed in this process, without start-up or figures")


def _rows(output) -> str:
    """The row count of one of ``write_tables``' outputs, ``(path, rows)``."""
    rows = output[1] if isinstance(output, tuple) and len(output) > 1 else None
    return f"{rows:,}" if isinstance(rows, int) else "?"


# ---------------------------------------------------------------- 4. figures


def bench_figures(report: Report, sizes: dict, tmp: Path) -> None:
    experiment = REPO / "experiments" / "answer-example.yaml"
    out = str(tmp / "figures-{round}")
    base = [*cli(), "run", str(experiment), "--out"]
    runs = alternate_commands(
        {
            "figures": [*base, out + "-figures", "--figures"],
            "no figures": [*base, out + "-no-figures", "--no-figures"],
        },
        repeats=sizes["figures"]["repeats"],
    )
    for label, run in runs.items():
        shape = "2000 x 20 x H3 f64"
        report.timed("figures", f"answer-example run, {label} (CLI)", shape, "auto", run.timing())
    with_, without = runs["figures"].seconds, runs["no figures"].seconds
    report.verdict(
        "4",
        "answer-example run: with figures / without",
        "auto",
        with_ / without,
        "<=",
        2.0,
        f"{with_:.2f} s / {without:.2f} s, best of {runs['figures'].repeats}",
    )
    for directory in tmp.glob("figures-*"):
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- 5. memory

# The conditions of the memory shapes, in this order.
MANY_CONDITIONS = {
    "deterministic": {},
    "bernoulli": {"gates": "bernoulli"},
    "concrete": {"gates": "concrete", "temperature": 0.5},
    "forget-only": {"forget": "bernoulli"},
    "input-only": {"input": "bernoulli"},
    "output-only": {"output": "bernoulli"},
    "zoneout": {"zoneout": {"c": 0.1, "h": 0.05}},
    "literal": {"gates": "bernoulli", "forget_semantics": "erase"},
}


def memory_experiment(tmp: Path, name: str, s: dict) -> Path:
    """A run of the shape ``s`` recording every step, every quantity and the
    default derived quantities (two sample paths), deterministic + bernoulli
    unless ``s`` asks for more conditions or sweep points."""
    conditions = dict(list(MANY_CONDITIONS.items())[: s.get("conditions", 2)])
    spec = {
        "name": "bench-memory-" + name.replace(" ", "-"),
        "description": f"stochlstm benchmark (benchmarks/bench.py): memory, {name}",
        "seeds": s["seeds"],
        "root_seed": 0,
        "model": {
            "input_size": s.get("input", INPUT_SIZE),
            "hidden_size": s["hidden"],
            "weights": {"init": "uniform", "seed": 0},
        },
        "inputs": {"kind": "gaussian", "steps": s["steps"], "seed": 0},
        "conditions": conditions,
        "record": {"seeds": 2, "every": 1},
        "output": {"dir": str(tmp / "results"), "format": "csv", "figures": False},
        "execution": {"memory_budget_mb": s["budget"]},
    }
    if s.get("points", 1) > 1:
        temperatures = np.geomspace(0.1, 3.0, s["points"]).round(3).tolist()
        spec["sweep"] = {"conditions.concrete.temperature": temperatures}
    return write_experiment(tmp, spec)


def _memory_shape(s: dict) -> str:
    text = f"{s['seeds']} x {s['steps']} x H{s['hidden']}"
    if s.get("conditions", 2) != 2:
        text += f", {s['conditions']} cond"
    if s.get("points", 1) > 1:
        text += f", {s['points']} points"
    return text + f", budget {s['budget']}"


def bench_memory(report: Report, sizes: dict, tmp: Path) -> None:
    for name, s in sizes["memory"].items():
        path = memory_experiment(tmp, name, s)
        limit = s["budget"] + 1000
        run = run_command(
            [*cli(), "run", str(path), "--out", str(tmp / "memory"), "--no-figures"],
            timeout=sizes["memory_timeout"],
            rss_limit_mb=limit,
        )
        shutil.rmtree(tmp / "memory", ignore_errors=True)
        shape = _memory_shape(s)
        bound = s["budget"] + 200
        peak = f"peak {run.peak_mb:.0f} MB"
        met = run.peak_mb <= bound and run.returncode in (0, 2)
        if run.returncode == 2:  # a user's mistake: refused, with a message
            outcome = f"refused at {peak}: {run.errors}"
        elif run.returncode == 0:
            outcome = f"ran: {peak}"
        else:
            outcome = f"{run.stopped or f'exit {run.returncode}: {run.errors}'} ({peak})"
        variant = f"stochlstm run --no-figures: {name}"
        report.timed("memory", variant, shape, "auto", run.timing(), note=outcome)
        target = f"memory, {name} ({shape}): peak MB <= {bound} or refused"
        report.judge(Verdict("5", target, "auto", outcome, "met" if met else "missed"))


# ---------------------------------------------------------------- 7. sweep


def sweep_experiment(tmp: Path, s: dict) -> Path:
    """A grid sweep of ``temperatures`` x ``weight_seeds`` points, each a tiny run."""
    temperatures = [float(f"{t:.6g}") for t in np.geomspace(0.01, 10.0, s["temperatures"])]
    return write_experiment(
        tmp,
        {
            "name": "bench-sweep",
            "description": "stochlstm benchmark (benchmarks/bench.py): a big sweep",
            "seeds": 10,
            "root_seed": 0,
            "model": {"input_size": 2, "hidden_size": 4, "weights": {"init": "uniform", "seed": 0}},
            "inputs": {"kind": "gaussian", "steps": 10, "seed": 0},
            "conditions": {
                "deterministic": {},
                "concrete": {"gates": "concrete", "temperature": 0.5},
            },
            "sweep": {
                "conditions.concrete.temperature": temperatures,
                "model.weights.seed": list(range(s["weight_seeds"])),
            },
            "output": {"dir": str(tmp / "results"), "figures": False},
            # its statistics and sample paths over 100,000 points need ~19 GB: the budget
            # lets validation go to the end (under 512 MB it is refused, also timed here)
            "execution": {"memory_budget_mb": 100_000},
        },
    )


def bench_sweep(report: Report, sizes: dict, tmp: Path) -> None:
    s = sizes["sweep"]
    points = s["temperatures"] * s["weight_seeds"]
    shape = f"{points:,} points ({s['temperatures']} x {s['weight_seeds']})"
    path = sweep_experiment(tmp, s)
    commands = {
        "stochlstm validate": [*cli(), "validate", str(path)],
        "stochlstm run --plan": [*cli(), "run", str(path), "--plan", "--out", str(tmp / "sweep")],
    }
    for label, command in commands.items():
        run = run_command(command, timeout=s["timeout"])
        if run.returncode == 0:
            outcome = f"{run.seconds:.2f} s, peak {run.peak_mb:.0f} MB"
            met = "met" if run.seconds < 5.0 else "missed"
        else:
            outcome = run.stopped or f"exit {run.returncode}: {run.errors}"
            met = "missed"
        report.timed("sweep", label, shape, "-", run.timing(), note=outcome)
        report.judge(Verdict("7", f"{label}, {shape}: seconds < 5", "-", outcome, met))


# ---------------------------------------------------------------- main

BENCHMARKS: dict[str, tuple[str, Callable[[Report, dict, Path], None]]] = {
    # name: (issue-13 target, benchmark); in the order they run
    "deterministic": ("-", bench_deterministic),
    "bernoulli": ("6", bench_bernoulli),
    "vectorised": ("-", bench_vectorised),
    "e2e": ("1", bench_e2e),
    "recorder": ("2", bench_recorder),
    "tables": ("3", bench_tables),
    "figures": ("4", bench_figures),
    "memory": ("5", bench_memory),
    "sweep": ("7", bench_sweep),
}


def chosen_benchmarks(only: str | None, parser: argparse.ArgumentParser) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    by_number = {number: name for name, (number, _) in BENCHMARKS.items() if number != "-"}
    names = [by_number.get(n.strip(), n.strip()) for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)} "
            f"or target numbers {', '.join(sorted(by_number))}"
        )
    return [name for name in BENCHMARKS if name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke check")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help=f"run only these benchmarks: {', '.join(BENCHMARKS)}, or issue-13 target numbers 1-7",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="the CSV of measurements to write (default benchmarks/results.csv for a full "
        "run, nothing for --quick); NAME.targets.csv gets the targets, NAME.txt everything",
    )
    args = parser.parse_args(argv)
    chosen = chosen_benchmarks(args.only, parser)
    sizes = QUICK if args.quick else FULL
    out = args.out or (None if args.quick else Path(__file__).resolve().parent / "results.csv")

    info = machine()  # before torch is imported: the BLAS found is numpy's
    inside = kernel_blas_threads()
    info["numpy BLAS threads"] += (
        f" globally; {inside if inside is not None else '?'} in run_kernel"
    )
    torch = torch_or_none()
    if torch:
        info["torch threads"] = f"{torch.get_num_threads()} by default"
    info["thread counts"] = ", ".join(map(str, thread_counts()))
    info["baseline RSS"] = f"{(_status_kb('VmRSS') or 0) / 1024:.0f} MB (this process)"
    info["mode"] = "quick (smoke-check sizes)" if args.quick else "full"
    print("\n".join(f"{key:>18}: {value}" for key, value in info.items()), flush=True)

    report = Report()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stochlstm-bench-") as tmp:
        for name in chosen:
            number, bench = BENCHMARKS[name]
            print(
                f"\n[{name}]" + (f" issue 13 target {number}" if number != "-" else ""), flush=True
            )
            try:
                bench(report, sizes, Path(tmp))
            except Exception as error:  # noqa: BLE001 (the other benchmarks still run)
                traceback.print_exc()
                lines = str(error).strip().splitlines() or [""]
                message = f"{type(error).__name__}: {lines[-1]}"
                report.judge(Verdict(number, f"{name}: did not finish", "-", message, "error"))
    total = time.perf_counter() - started
    info["load average"] = f"{info['load average']} at the start; {loadavg()} at the end"
    if args.quick:
        report.notes.append(
            "quick sizes are a smoke check: the ratios are not at the targets' sizes, and the "
            "CLI's start-up dominates the runs"
        )

    header = "\n".join(f"{key:>18}: {value}" for key, value in info.items())
    verdicts = report.verdicts
    counts = {word: sum(v.met == word for v in verdicts) for word in ("met", "missed", "error")}
    summary = ", ".join(f"{n} {word}" for word, n in counts.items())
    text = "\n\n".join(
        [
            header,
            measurements_table(report.rows),
            "notes:\n" + "\n".join(f"  - {n}" for n in report.notes),
            "targets (issue 13 numbered; '-' the kernel's own):\n" + targets_table(verdicts),
            f"targets: {summary}; load average {info['load average']}; "
            f"total benchmark time {total:.0f} s",
        ]
    )
    print("\n" + text.split("\n\n", 1)[1])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
            writer.writeheader()
            writer.writerows(asdict(row) for row in report.rows)
        targets = out.with_suffix(".targets.csv")
        with open(targets, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(Verdict.__dataclass_fields__))
            writer.writeheader()
            writer.writerows(asdict(v) for v in verdicts)
        command = " ".join(
            ["python benchmarks/bench.py", *(sys.argv[1:] if argv is None else argv)]
        )
        out.with_suffix(".txt").write_text(
            f"stochlstm benchmarks: {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
            f"{'command':>18}: {command}\n{text}\n"
        )
        print(f"wrote {out}, {targets} and {out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
