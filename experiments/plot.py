#!/usr/bin/env python3
"""Plots of one tapelab run folder: reads summary.json and the run's CSV files, writes PNG files beside them.

Usage: plot.py RUN_DIR    (tapelab runs it after every experiment; rerun it by hand after editing this file)
Needs matplotlib (Debian: python3-matplotlib) and numpy, nothing else. Each PNG is written to a temporary
name and renamed, like every other output file.
"""
import csv
import json
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_csv(run_dir, name):
    with open(os.path.join(run_dir, name), newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        conv = {}
        for k, v in r.items():
            try:
                conv[k] = float(v)
            except ValueError:
                conv[k] = v
        out.append(conv)
    return out


def save(fig, run_dir, name):
    path = os.path.join(run_dir, name)
    tmp = path + ".tmp"
    fig.tight_layout()
    fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def group(rows, key):
    g = defaultdict(list)
    for r in rows:
        g[r[key]].append(r)
    return dict(sorted(g.items()))


def loglog_slope(x, y):
    x, y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    ok = np.isfinite(x) & np.isfinite(y)
    return np.polyfit(x[ok], y[ok], 1)[0] if ok.sum() >= 2 else float("nan")


def trichotomy(run_dir, summary, prefix, quantities):
    points = read_csv(run_dir, prefix + "points.csv")
    by_beta = group(points, "beta")
    for q, label in quantities:
        fig, axes = plt.subplots(1, len(by_beta), figsize=(4.2 * len(by_beta), 3.6), squeeze=False)
        for ax, (beta, rows) in zip(axes[0], by_beta.items()):
            L = [r["depth"] for r in rows]
            med = [r["median_" + q] for r in rows]
            ax.fill_between(L, [r["q25_" + q] for r in rows], [r["q75_" + q] for r in rows], alpha=0.25,
                            label="interquartile range")
            ax.plot(L, med, "o-", label="median (slope %.2f)" % loglog_slope(L, med))
            ax.plot(L, [math.sqrt(r["mean_square_" + q]) for r in rows], "s", mfc="none", label="root mean square")
            ax.plot(L, [math.sqrt(r["expected_mean_square"]) for r in rows], "k--", lw=1,
                    label=r"[DER] $((1+\alpha^2/2)^L-1)^{1/2}$")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(r"$\beta = %g$" % beta)
            ax.set_xlabel("depth L")
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
        save(fig, run_dir, prefix + q + ".png")


def plot_x1(run_dir, summary):
    trichotomy(run_dir, summary, "", [("r_h", r"$r_h = \|h_L-h_0\|/\|h_0\|$"),
                                      ("r_g", r"$r_g = \|g_L-g_0\|/\|g_L\|$")])


def normal_pdf(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def plot_x2(run_dir, summary):
    s = np.array([r["log_norm_ratio"] for r in read_csv(run_dir, "samples.csv")])
    sc = np.array([r["log_abs_ratio"] for r in read_csv(run_dir, "scalar_samples.csv")])
    net = summary["network"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax = axes[0]
    ax.hist(s, bins=60, density=True, alpha=0.6, label="%d networks" % len(s))
    xs = np.linspace(s.min(), s.max(), 300)
    ax.plot(xs, normal_pdf(xs, net["mean_log_norm_ratio"], net["std_log_norm_ratio"]), label="fitted normal")
    ax.plot(xs, normal_pdf(xs, net["expected_mean_der"], net["expected_std_der"]), "k--",
            label="[DER] N(1/4 - 1/(2w), 1/(2w))")
    ax.set_xlabel(r"$\log(\|h_L\|/\|h_0\|)$")
    ax.set_title("res-3 at the critical scale (KS %.3f)" % net["ks_distance_to_fitted_normal"])
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.hist(sc, bins=60, density=True, alpha=0.6, label="%d samples" % len(sc))
    xs = np.linspace(sc.min(), sc.max(), 300)
    ax.plot(xs, normal_pdf(xs, -0.5, 1.0), "k--", label="[DER] N(-1/2, 1)")
    ax.set_xlabel(r"$\log|x_L/x_0|$")
    ax.set_title(r"scalar model $x_{k+1} = x_k(1 + v_k/\sqrt{L})$")
    ax.legend(fontsize=8)
    save(fig, run_dir, "distribution.png")


def reference_line(ax, L, y0, slope, label):
    L = np.asarray(L, float)
    ax.plot(L, y0 * (L / L[0]) ** slope, "k:", lw=1, label=label)


def plot_x5(run_dir, summary):
    rows = read_csv(run_dir, "errors.csv")
    L = [r["depth"] for r in rows]
    sm = [r["smooth_error_vs_rk4"] for r in rows]
    ro = [r["rough_error_vs_reference"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(L, sm, "o-", label="Lipschitz weights vs RK4 limit (slope %.2f)" % loglog_slope(L, sm))
    ax.plot(L, ro, "s-", label="i.i.d. weights vs deep i.i.d. net (slope %.2f)" % loglog_slope(L, ro))
    reference_line(ax, L, sm[0], -1, "slope -1")
    reference_line(ax, L, ro[0], -0.5, "slope -1/2")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$\sup_x \|F^L(x) - F(x)\|$")
    ax.set_title("X5: ResNet -> neural ODE (P4 Prop. 2)")
    ax.legend(fontsize=7)
    save(fig, run_dir, "discretisation_error.png")


def plot_x6(run_dir, summary):
    depths = read_csv(run_dir, "depths.csv")
    ref = max(r["depth"] for r in depths)
    sweep = [r for r in depths if r["depth"] != ref]
    L = [r["depth"] for r in sweep]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    ax = axes[0]
    D = [r["max_increment_D"] for r in sweep]
    l2 = [r["l2_increments"] for r in sweep]
    ax.plot(L, D, "o-", label=r"$D_L = \max_{k,t}\|Z_{k+1}-Z_k\|$")
    ax.plot(L, l2, "s-", label=r"authors' plot: $\ell^2$ over $(k, t)$")
    big = [i for i, x in enumerate(L) if x >= 16]
    if big:
        reference_line(ax, [L[i] for i in big], D[big[0]], -1, "slope -1")
        reference_line(ax, [L[i] for i in big], l2[big[0]], -0.5, "slope -1/2")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_title("layer increments along training")
    ax.legend(fontsize=7)
    ax = axes[1]
    dist = group(read_csv(run_dir, "distances.csv"), "iteration")
    for t, rows in dist.items():
        ax.plot([r["depth"] for r in rows], [r["E"] for r in rows], "o-", ms=3, label="t = %d" % t)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$E_L(t) = \|\mathcal{Z}^L - \mathcal{Z}^{ref}\|_{L^2(s)}$")
    ax.set_title("distance to the depth-%d reference" % ref)
    ax.legend(fontsize=7, ncol=2)
    ax = axes[2]
    for L_, rows in group(read_csv(run_dir, "iterations.csv"), "depth").items():
        ax.plot([r["iteration"] for r in rows], [r["loss"] for r in rows], label="L = %d" % L_)
    ax.set_yscale("log")
    ax.set_xlabel("GD iteration")
    ax.set_ylabel("loss")
    ax.legend(fontsize=6, ncol=2)
    save(fig, run_dir, "training_limit.png")


def plot_x8(run_dir, summary):
    rows = read_csv(run_dir, "weights.csv")
    acts = list(dict.fromkeys(r["activation"] for r in rows))
    fig, axes = plt.subplots(1, len(acts), figsize=(6 * len(acts), 4), squeeze=False)
    for ax, act in zip(axes[0], acts):
        for L, rs in group([r for r in rows if r["activation"] == act], "L").items():
            k = np.array([r["k"] for r in rs])
            ax.plot(k / (2 * L), [r["w_final"] for r in rs], ".-", ms=3, lw=0.6, label="L = %d" % L)
        if act == "relu":
            ax.axhline(summary["two_log_C"], color="k", ls=":", lw=1, label="2 log C")
        ax.set_xlabel("layer k / (2L)")
        ax.set_ylabel("trained weight $w_k$")
        ax.set_title("X8: %s" % act)
        ax.legend(fontsize=7)
    save(fig, run_dir, "weights.png")


def plot_x11(run_dir, summary):
    it = group(read_csv(run_dir, "iterations.csv"), "depth")
    dep = read_csv(run_dir, "depths.csv")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for L, rows in it.items():
        axes[0].plot([r["iteration"] for r in rows], [r["loss"] for r in rows], label="L = %d" % L)
        axes[1].plot([r["iteration"] for r in rows], [math.sqrt(L) * r["max_distance_to_init"] for r in rows],
                     label="L = %d" % L)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("GD iteration")
    axes[0].set_ylabel("loss J")
    axes[0].set_title("linear convergence, rate independent of L")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("GD iteration")
    axes[1].set_ylabel(r"$\sqrt{L}\,\max_k\|A_k(n)-A_k(0)\|$")
    axes[1].legend(fontsize=7)
    L = [r["depth"] for r in dep]
    ax = axes[2]
    for key, label in [("one_variation", "1-variation"), ("two_variation_grid", "2-variation (grid)"),
                       ("two_variation_exact", "2-variation (exact)"), ("displacement_qv", r"QV of $\Delta A$")]:
        y = [r[key] for r in dep]
        ax.plot(L, y, "o-", label="%s (slope %.2f)" % (label, loglog_slope(L, y)))
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_title(r"regularity of $W_t = L^{-1/2}\sum_{k<Lt} A_k$")
    ax.legend(fontsize=7)
    save(fig, run_dir, "gd_convergence.png")


def plot_x12(run_dir, summary):
    rows = read_csv(run_dir, "adjoint_errors.csv")
    L = [r["depth"] for r in rows]
    e = [r["max_adjoint_error"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    ax.plot(L, e, "o-", label="tapelab backward vs RK4 (slope %.2f)" % loglog_slope(L, e))
    reference_line(ax, L, e[0], -1, "slope -1")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("depth L")
    ax.set_ylabel(r"$\max_k \|p_k - p(k/L)\|$")
    ax.set_title("X12: adjoint -> backward ODE (P3)")
    ax.legend(fontsize=7)
    ax = axes[1]
    for coord, rs in group(read_csv(run_dir, "adjoint_reference.csv"), "coordinate").items():
        ax.plot([r["s"] for r in rs], [r["p_reference"] for r in rs], label="coordinate %d" % coord)
    ax.set_xlabel("s")
    ax.set_ylabel("p(s), input 0")
    ax.set_title("the backward ODE solution")
    ax.legend(fontsize=7)
    save(fig, run_dir, "adjoint.png")
    if os.path.exists(os.path.join(run_dir, "trichotomy_points.csv")):
        trichotomy(run_dir, summary, "trichotomy_", [("r_g", r"$r_g = \|g_L-g_0\|/\|g_L\|$")])


PLOTS = {"X1": plot_x1, "X2": plot_x2, "X5": plot_x5, "X6": plot_x6, "X8": plot_x8, "X11": plot_x11,
         "X12": plot_x12}


def main():
    if len(sys.argv) != 2:
        print("usage: plot.py RUN_DIR", file=sys.stderr)
        return 2
    run_dir = sys.argv[1]
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    plot = PLOTS.get(summary.get("experiment"))
    if plot is None:
        print("plot.py: no plots for experiment %r" % summary.get("experiment"), file=sys.stderr)
        return 0
    plot(run_dir, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
