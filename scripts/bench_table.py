#!/usr/bin/env python3
"""Side-by-side table of a Google Benchmark JSON run: tapelab rows next to their peer rows, with the ratio.

Usage: bench_table.py RESULT.json

Rows named BM_<what>/<impl>/<rest> are paired on (<what>, <rest>); impl "tapelab" is compared with every other
impl of the same key ("openblas", "libtorch"). With --benchmark_repetitions, each row is summarised by the median
over repetitions (and the best, which is what a quiet machine would show). Ratio = tapelab speed / peer speed
(time ratio peer/tapelab, or GFLOPS ratio): > 1 means tapelab is faster. Two-thread rows (".../real_time",
wall-clock) pair on the same key as the one-thread rows. Rows without a tapelab row to compare with
(BM_TapeOverhead/<op>/<tape|kernels|libtorch>, whose impl is the last part) are listed after the table, with their
per_op counter when they have one.
"""
import json
import statistics
import sys
from collections import defaultdict


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(sys.argv[1]) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"bench_table.py: cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 1

    times = defaultdict(list)  # name -> [time per iteration in its unit]
    per_op = defaultdict(list)  # name -> [seconds per op] (BM_TapeOverhead's counter)
    gflops = defaultdict(list)  # name -> [GFLOPS counter]
    paired = defaultdict(list)  # BM_GemmPaired name -> [(ratio, tapelab_us, openblas_us, pairs)] per repetition
    units = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        if name.startswith("BM_GemmPaired/"):
            paired[name].append(
                (float(b["ratio"]), float(b["tapelab_us"]), float(b["openblas_us"]), int(b["pairs"])))
            continue
        if name.endswith("/real_time"):
            name = name[: -len("/real_time")]
        times[name].append(float(b["cpu_time"]) if "/2t" not in name and "-2t" not in name else float(b["real_time"]))
        units[name] = b.get("time_unit", "us")
        if "per_op" in b:
            per_op[name].append(float(b["per_op"]))
        if "GFLOPS" in b:
            gflops[name].append(float(b["GFLOPS"]))

    rows = defaultdict(dict)  # key -> impl -> (median, best)
    order = []
    for name, ts in times.items():
        parts = name.split("/")
        if len(parts) < 3:
            continue
        if parts[0] == "BM_TapeOverhead":  # BM_TapeOverhead/<op>/<impl>
            key, impl = (parts[0], "/".join(parts[1:-1])), parts[-1]
        else:
            key, impl = (parts[0], "/".join(parts[2:])), parts[1]
        if key not in rows:
            order.append(key)
        rows[key][impl] = (statistics.median(ts), min(ts), units[name], name)

    # Random interleaving scrambles the file's order: sort by benchmark, then by its numbers (f32 before f64).
    def natural(key):
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in (key[0] + "/" + key[1]).split("/")]

    order.sort(key=natural)
    ctx = data.get("context", {})
    print(f"host: {ctx.get('host_name', '?')}  tapelab target: {ctx.get('tapelab_target', '?')}  "
          f"OPENBLAS_CORETYPE: {ctx.get('openblas_coretype', '?')}  repetitions: {max(map(len, times.values()), default=0)}")
    header = f"{'benchmark':<34} {'impl':<18} {'median':>12} {'best':>12} {'ratio(median)':>14} {'ratio(best)':>12}"
    print(header)
    print("-" * len(header))
    for key in order:
        impls = rows[key]
        if "tapelab" not in impls:
            continue
        t_med, t_best, unit, _ = impls["tapelab"]
        label = f"{key[0]}/{key[1]}"
        print(f"{label:<34} {'tapelab':<18} {t_med:>10.2f}{unit:>2} {t_best:>10.2f}{unit:>2}")
        for impl, (p_med, p_best, p_unit, _) in sorted(impls.items()):
            if impl == "tapelab":
                continue
            if impl.startswith("tapelab"):
                print(f"{'':<34} {impl:<18} {p_med:>10.2f}{p_unit:>2} {p_best:>10.2f}{p_unit:>2}")
                continue
            print(f"{'':<34} {impl:<18} {p_med:>10.2f}{p_unit:>2} {p_best:>10.2f}{p_unit:>2} "
                  f"{p_med / t_med:>14.2f} {p_best / t_best:>12.2f}")

    unpaired = [key for key in order if "tapelab" not in rows[key]]
    if unpaired:
        print()
        print(f"{'other rows':<34} {'impl':<18} {'median':>12} {'best':>12} {'per op (median)':>16}")
        for key in unpaired:
            for impl, (med, best, unit, name) in sorted(rows[key].items()):
                op = f"{statistics.median(per_op[name]) * 1e9:>13.1f} ns" if per_op.get(name) else ""
                print(f"{key[0] + '/' + key[1]:<34} {impl:<18} {med:>10.2f}{unit:>2} {best:>10.2f}{unit:>2} {op:>16}")
    peak = {name.split("/")[1]: statistics.median(g) for name, g in gflops.items() if name.startswith("BM_FmaPeak/")}
    print_paired(paired, peak)
    print_floors(rows, order, gflops)
    return 0


def print_paired(paired, peak) -> None:
    """BM_GemmPaired: both libraries timed in alternating ~100 us bursts; per repetition, the median over pairs of
    OpenBLAS time / tapelab time. Printed: the median and the range of that over repetitions, and, when the run
    measured the core's FMA peak (BM_FmaPeak/<precision>), each library's rate as a fraction of it: where both
    are at about 1.00 neither can be faster, and the ratio is a tie whichever side of 1 it falls."""
    if not paired:
        return

    def natural(name):
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("/")]

    print()
    print("paired bursts (BM_GemmPaired): ratio = OpenBLAS time / tapelab time, median over pairs, then over "
          "repetitions")
    header = (f"{'shape':<30} {'tapelab':>12} {'openblas':>12} {'ratio':>7} {'range over reps':>17} "
              f"{'pairs/rep':>10}" + (f" {'of peak: tapelab':>17} {'openblas':>9}" if peak else ""))
    print(header)
    print("-" * len(header))
    for name in sorted(paired, key=natural):
        reps = paired[name]
        ratios = [r[0] for r in reps]
        t_ours = statistics.median(r[1] for r in reps)
        t_peer = statistics.median(r[2] for r in reps)
        pairs = statistics.median(r[3] for r in reps)
        shape = name[len("BM_GemmPaired/"):]
        of_peak = ""
        parts = shape.split("/")  # <precision>/[<form>/]<M>/<N>/<K>
        if parts[0] in peak:
            flops = 2.0 * int(parts[-3]) * int(parts[-2]) * int(parts[-1])
            rate = lambda us: flops / (us * 1e-6) * 1e-9 / peak[parts[0]]
            of_peak = f" {rate(t_ours):>17.2f} {rate(t_peer):>9.2f}"
        print(f"{shape:<30} {t_ours:>10.2f}us {t_peer:>10.2f}us {statistics.median(ratios):>7.2f} "
              f"{min(ratios):>8.2f}-{max(ratios):<8.2f} {pairs:>10.0f}{of_peak}")


def print_floors(rows, order, gflops) -> None:
    """Training steps against the same run's one-thread 1024^3 GEMM rate (BM_GemmRate/gemm1024/<precision>).

    A step's GEMM flops at that rate take `floor` time: no implementation doing the model's arithmetic on one core
    of this CPU is faster (the rest of the step, activations and memory traffic, only adds). "of rate" is the step's
    GEMM flop rate over the GEMM rate; for a peer row, "peer/floor" is its time over the floor: the largest
    speed-up over that peer any one-thread implementation could show here.
    """
    rate = {}
    for key in order:
        if key[0] == "BM_GemmRate":
            for _, (_, _, _, name) in rows[key].items():
                if gflops.get(name):
                    rate[key[1]] = statistics.median(gflops[name])
    steps = [key for key in order if key[0] in ("BM_TrainStep", "BM_P4Step")]
    if not rate or not steps:
        return
    print()
    print("against the GEMM rate of this run: " +
          ", ".join(f"{p} {r:.1f} GFLOP/s" for p, r in sorted(rate.items())) + " (BM_GemmRate, 1024^3, one thread)")
    header = f"{'benchmark':<34} {'impl':<18} {'median':>12} {'of rate':>8} {'floor':>10} {'peer/floor':>11}"
    print(header)
    print("-" * len(header))
    for key in steps:
        precision = key[1].split("/")[0]
        if precision not in rate:
            continue
        floor = None
        for impl, (med, _, unit, name) in sorted(rows[key].items(), key=lambda kv: kv[0] != "tapelab"):
            if "2t" in impl or not gflops.get(name):
                continue  # the rate is one thread's
            frac = statistics.median(gflops[name]) / rate[precision]
            label = f"{key[0]}/{key[1]}" if floor is None else ""
            if floor is None:
                floor = med * frac  # the same for every impl of the key: flops / rate
            peer = f"{med / floor:>11.2f}" if not impl.startswith("tapelab") else ""
            print(f"{label:<34} {impl:<18} {med:>10.2f}{unit:>2} {frac:>8.2f} {floor:>8.2f}{unit:>2} {peer}")


if __name__ == "__main__":
    sys.exit(main())
