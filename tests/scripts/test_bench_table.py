#!/usr/bin/env python3
"""scripts/bench_table.py's bar verdicts on small hand-made Google Benchmark results
(ctest: scripts.bench_table_bars).

Each case writes a JSON result, runs the script on it and checks the verdict line of each bar: a pass, a fail,
a fail that is a tie at the FMA peak, a training-step bar that the step's GEMM floor puts out of reach, the tape
overhead from the paired measurement over the separate rows, the bars of the other suite left out, and a clear
error for a file that cannot be read.
"""
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "bench_table.py")


def row(name, time, unit="us", **counters):
    return dict(name=name, run_name=name, run_type="iteration", cpu_time=time, real_time=time, time_unit=unit,
                **counters)


def paired(shape, tapelab_us, openblas_us):
    return row("BM_GemmPaired/" + shape, 100.0, ratio=openblas_us / tapelab_us, tapelab_us=tapelab_us,
               openblas_us=openblas_us, pairs=100)


def run(benchmarks):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.json")
        with open(path, "w") as f:
            json.dump({"context": {}, "benchmarks": benchmarks}, f)
        out = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError(f"bench_table.py exited {out.returncode}: {out.stderr}")
    return out.stdout


def bar_line(output, start):
    for line in output.splitlines():
        if line.strip().startswith(start):
            return line
    return None


failures = []


def check(condition, message, output):
    if not condition:
        failures.append(message + "\n--- output ---\n" + output)


def flops_us(m, n, k, gflops):  # microseconds for a GEMM of m x n x k at gflops
    return 2.0 * m * n * k / (gflops * 1e3)


# Kernels: 1024^3 at 0.95 of OpenBLAS (pass); ResNet shapes all 1.05 except one at 0.98 with both libraries at
# the peak (fail, marked a tie); f64 has no ResNet rows at all (not measured).
peak = 100.0  # GFLOP/s
kernels = [row("BM_FmaPeak/f32", 1.0, GFLOPS=peak)]
kernels.append(paired("f32/1024/1024/1024", 100.0, 95.0))
kernels.append(paired("f64/1024/1024/1024", 100.0, 89.0))
for d in (16, 64, 256):
    for b in (32, 256, 1024):
        t = flops_us(d, b, d, 0.97 * peak)
        kernels.append(paired(f"f32/{d}/{b}/{d}", t, t * (0.98 if (d, b) == (64, 256) else 1.05)))
out = run(kernels)
line = bar_line(out, "issue 2: GEMM 1024^3 f32")
check(line is not None and "PASS" in line and "0.95" in line, "1024^3 f32 at 0.95 should pass", out)
line = bar_line(out, "issue 2: GEMM 1024^3 f64")
check(line is not None and "FAIL" in line and "0.89" in line, "1024^3 f64 at 0.89 should fail", out)
line = bar_line(out, "issue 2: every ResNet shape f32")
check(line is not None and "FAIL" in line and "64x256x64" in line and "a tie" in line,
      "the f32 ResNet shape at 0.98 with both at 0.97 of the peak should fail as a tie", out)
line = bar_line(out, "issue 2: every ResNet shape f64")
check(line is not None and "not measured" in line, "f64 ResNet shapes without rows should be 'not measured'", out)
check(bar_line(out, "issue 3") is None and bar_line(out, "issue 5") is None,
      "a kernels run should not list the autodiff bars", out)

# A filtered run with a few ResNet shapes, all above 1.00: no verdict for "every ResNet shape" (not all seen).
out = run([paired("f64/16/256/16", 1.0, 1.1), paired("f64/64/256/64", 1.0, 1.2)])
line = bar_line(out, "issue 2: every ResNet shape f64")
check(line is not None and "PASS" not in line and "FAIL" not in line and "2/9 shapes" in line,
      "two of nine ResNet shapes should give no verdict", out)

# Autodiff: GEMM rate 50 GFLOP/s; a d = 16 step of 0.5 GFLOP (floor 10 ms) at 20 ms against libtorch's 80 ms:
# 4x, and no implementation could exceed 8x here (unreachable). d = 64: 100 ms against 400 ms with a floor of
# 50 ms: 4x >= 3x (pass). Tape overhead 40 and 120 ns (fail on the larger). X6 at 9.5 ms on two threads (pass).
autodiff = [row("BM_GemmRate/gemm1024/f64", 40.0, unit="ms", GFLOPS=50.0)]
autodiff.append(row("BM_TrainStep/tapelab/f64/16/1024", 20.0, unit="ms", GFLOPS=0.5 / 0.020))
autodiff.append(row("BM_TrainStep/libtorch/f64/16/1024", 80.0, unit="ms", GFLOPS=0.5 / 0.080))
autodiff.append(row("BM_TrainStep/tapelab/f64/64/1024", 100.0, unit="ms", GFLOPS=2.5 / 0.100))
autodiff.append(row("BM_TrainStep/libtorch/f64/64/1024", 400.0, unit="ms", GFLOPS=2.5 / 0.400))
autodiff.append(row("BM_TapeOverhead/hadamard8x8/tape", 1.0, per_op=60e-9))
autodiff.append(row("BM_TapeOverhead/hadamard8x8/kernels", 1.0, per_op=20e-9))
autodiff.append(row("BM_TapeOverhead/matmul8x8/tape", 1.0, per_op=320e-9))
autodiff.append(row("BM_TapeOverhead/matmul8x8/kernels", 1.0, per_op=200e-9))
autodiff.append(row("BM_P4Step/tapelab-2t/f64/1024/real_time", 9.5, unit="ms"))
out = run(autodiff)
line = bar_line(out, "issue 3: training step d=16")
check(line is not None and "FAIL" in line and "4.00x" in line and "at most 8.00x" in line,
      "d = 16 at 4x with a floor allowing 8x should fail as unreachable", out)
line = bar_line(out, "issue 3: training step d=64")
check(line is not None and "PASS" in line and "4.00x" in line and "unreachable" not in line,
      "d = 64 at 4x should pass", out)
line = bar_line(out, "issue 3: tape overhead")
check(line is not None and "FAIL" in line and "40 ns" in line and "120 ns" in line,
      "tape overheads of 40 and 120 ns should fail the 100 ns bar", out)
line = bar_line(out, "issue 5: X6 iteration")
check(line is not None and "PASS" in line and "9.5 ms" in line, "X6 at 9.5 ms on two threads should pass", out)
check(bar_line(out, "issue 2") is None, "an autodiff run should not list the kernel bars", out)

# X6 at 16 ms on two threads (fail) whose kernels alone take 10.5 ms with hot caches (BM_P4KernelsOnly): out of
# reach with these kernels, and said so; its one-thread row at 1.2 GFLOP/s over 30 ms against the GEMM rate of
# 50 GFLOP/s gives a floor of 24 ms on one core, 12 on two. Kernels alone at 8 ms: a plain fail.
x6 = [row("BM_GemmRate/gemm1024/f64", 40.0, unit="ms", GFLOPS=50.0),
      row("BM_P4Step/tapelab/f64/1024", 30.0, unit="ms", GFLOPS=1.2 / 0.030),
      row("BM_P4Step/tapelab-2t/f64/1024/real_time", 16.0, unit="ms")]
out = run(x6 + [row("BM_P4KernelsOnly/tapelab-2t/f64/1024/real_time", 10.5, unit="ms")])
line = bar_line(out, "issue 5: X6 iteration")
check(line is not None and "FAIL" in line and "kernels alone, caches hot: 10.5 ms" in line
      and "unreachable with these kernels" in line and "GEMM floor on two cores 12.0 ms" in line,
      "X6 at 16 ms with kernels alone at 10.5 ms should fail as out of reach, with the two-core floor", out)
out = run(x6 + [row("BM_P4KernelsOnly/tapelab-2t/f64/1024/real_time", 8.0, unit="ms")])
line = bar_line(out, "issue 5: X6 iteration")
check(line is not None and "FAIL" in line and "8.0 ms" in line and "unreachable" not in line,
      "X6 at 16 ms with kernels alone at 8 ms should fail without the out-of-reach note", out)

# The paired overhead, when the run has it, decides the bar instead of the separate rows: here the rows say
# 140 ns for the matmul chain (fail) but the pairs 30 and 50 ns over two repetitions (median 40: pass).
def overhead_paired(op, ns):
    return row("BM_TapeOverheadPaired/" + op, 1.0, overhead_ns=ns, tape_ns=ns + 200.0, kernels_ns=200.0, pairs=400)


out = run([row("BM_TapeOverhead/matmul8x8/tape", 1.0, per_op=340e-9),
           row("BM_TapeOverhead/matmul8x8/kernels", 1.0, per_op=200e-9),
           overhead_paired("matmul8x8", 30.0), overhead_paired("matmul8x8", 50.0),
           row("BM_TapeOverhead/hadamard8x8/tape", 1.0, per_op=50e-9),
           row("BM_TapeOverhead/hadamard8x8/kernels", 1.0, per_op=20e-9)])
line = bar_line(out, "issue 3: tape overhead")
check(line is not None and "PASS" in line and "40 ns (matmul8x8, paired)" in line
      and "30 ns (hadamard8x8, rows)" in line,
      "the paired overhead (median 40 ns) should decide over the rows' 140 ns; hadamard from its rows", out)
check("tape overhead, paired" in out and "30.0-50.0" in out, "the paired overhead table should list the range", out)

# A file that is not JSON: a message and exit code 1.
with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write("{ not json")
    res = subprocess.run([sys.executable, SCRIPT, bad], capture_output=True, text=True)
    check(res.returncode == 1 and "cannot read" in res.stderr, "a corrupt result should exit 1 with a message",
          res.stderr)

for f in failures:
    print("FAIL:", f, file=sys.stderr)
print(f"bench_table bars: {'all checks passed' if not failures else str(len(failures)) + ' failed'}")
sys.exit(1 if failures else 0)
