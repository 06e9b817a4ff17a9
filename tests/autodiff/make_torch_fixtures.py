#!/usr/bin/python3
"""Generates the PyTorch oracle fixtures of tests/autodiff/test_torch_oracle.cpp.

Why: tapelab's gradients are checked against a trusted outside implementation, as micrograd and llm.c do.
This script builds a few small residual networks in PyTorch (float64), runs one forward and backward pass, and
writes every input, weight, the loss and every gradient (including dl/dh_k of each hidden state) to a text file.
The C++ test rebuilds the same network on the tapelab tape from those numbers and requires agreement to
1e-10 relative error.

The network (hidden states are width x batch, one column per sample, as in tapelab):
    h_0     = A x                                       A: width x d_in,  x: d_in x batch
    h_{k+1} = h_k + alpha V_k act(W_k h_k + b_k)        W_k: hidden x width, b_k: hidden x 1, V_k: width x hidden
                                                        (V_k = identity when the config says V 0; then
                                                        hidden == width; b_k absent when bias 0)
    y       = C h_L                                     C: d_out x width
    loss    = mean((y - target)^2)                      (loss mse)
            | mean_j cross_entropy(y[:, j], label_j)    (loss xent)

Regenerate (needs Debian's python3-torch; CI does not, the fixture files are committed):
    /usr/bin/python3 tests/autodiff/make_torch_fixtures.py
which rewrites tests/autodiff/fixtures/*.txt. The output is deterministic for a given torch version.

File format (plain text, every number printed with %.17g so doubles round-trip exactly):
    # comment lines
    config <key> <value> <key> <value> ...
    labels <n>                  (xent only) followed by one line of n integers
    tensor <name> <rows> <cols> followed by <rows> lines of <cols> numbers
Tensor names: x, target, A, C, W_k, b_k, V_k (k = 0..L-1), loss, and grad_<name> for each of those except
target, plus grad_h_k for k = 0..L (dl/dh_k, kept with retain_grad()).
"""
import math
import os

import torch
import torch.nn.functional as F

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

CONFIGS = [
    # name, L, d_in, width, hidden, d_out, batch, activation, bias, V, alpha, loss
    dict(name="resnet_tanh_bias", L=5, d_in=2, width=4, hidden=6, d_out=2, batch=3, activation="tanh", bias=1, V=1,
         alpha=1 / 5, loss="mse"),
    dict(name="resnet_gelu_erf_nobias", L=5, d_in=2, width=4, hidden=6, d_out=2, batch=3, activation="gelu_erf",
         bias=0, V=1, alpha=1 / 5, loss="mse"),
    dict(name="resnet_gelu_tanh_bias", L=5, d_in=3, width=4, hidden=6, d_out=2, batch=3, activation="gelu_tanh",
         bias=1, V=1, alpha=1 / 5, loss="mse"),
    dict(name="resnet_softplus_identity_v", L=5, d_in=2, width=4, hidden=4, d_out=2, batch=3, activation="softplus",
         bias=1, V=0, alpha=1 / math.sqrt(5), loss="mse"),
    dict(name="resnet_sigmoid_xent", L=4, d_in=2, width=4, hidden=6, d_out=3, batch=3, activation="sigmoid", bias=1,
         V=1, alpha=1 / 4, loss="xent"),
]


def activate(name, z):
    if name == "tanh":
        return torch.tanh(z)
    if name == "gelu_erf":
        return F.gelu(z)
    if name == "gelu_tanh":
        return F.gelu(z, approximate="tanh")
    if name == "softplus":
        return F.softplus(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    raise ValueError(name)


def leaf(t):
    return t.clone().requires_grad_(True)


def build(cfg, seed):
    g = torch.Generator().manual_seed(seed)

    def randn(rows, cols, std):
        return torch.randn(rows, cols, generator=g, dtype=torch.float64) * std

    L, width, hidden = cfg["L"], cfg["width"], cfg["hidden"]
    p = {"x": leaf(randn(cfg["d_in"], cfg["batch"], 1.0)),
         "A": leaf(randn(width, cfg["d_in"], 1 / math.sqrt(cfg["d_in"]))),
         "C": leaf(randn(cfg["d_out"], width, 1 / math.sqrt(width)))}
    for k in range(L):
        p[f"W_{k}"] = leaf(randn(hidden, width, 1 / math.sqrt(width)))
        if cfg["bias"]:
            p[f"b_{k}"] = leaf(randn(hidden, 1, 0.5))
        if cfg["V"]:
            p[f"V_{k}"] = leaf(randn(width, hidden, 1 / math.sqrt(hidden)))
    target = randn(cfg["d_out"], cfg["batch"], 1.0)
    labels = torch.randint(0, cfg["d_out"], (cfg["batch"],), generator=g)
    return p, target, labels


def forward_backward(cfg, p, target, labels):
    hs = [p["A"] @ p["x"]]
    for k in range(cfg["L"]):
        z = p[f"W_{k}"] @ hs[-1]
        if cfg["bias"]:
            z = z + p[f"b_{k}"]
        a = activate(cfg["activation"], z)
        if cfg["V"]:
            a = p[f"V_{k}"] @ a
        hs.append(hs[-1] + cfg["alpha"] * a)
    for h in hs:
        h.retain_grad()
    y = p["C"] @ hs[-1]
    if cfg["loss"] == "mse":
        loss = F.mse_loss(y, target)
    else:
        loss = F.cross_entropy(y.T, labels)  # PyTorch wants batch x classes
    loss.backward()
    return loss, hs


def write_tensor(f, name, t):
    t = t.detach().reshape(t.shape[0], -1) if t.dim() == 2 else t.detach().reshape(1, 1)
    f.write(f"tensor {name} {t.shape[0]} {t.shape[1]}\n")
    for row in t.tolist():
        f.write(" ".join("%.17g" % v for v in row) + "\n")


def main():
    torch.set_num_threads(1)
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    for seed, cfg in enumerate(CONFIGS):
        p, target, labels = build(cfg, 1234 + seed)
        loss, hs = forward_backward(cfg, p, target, labels)
        path = os.path.join(FIXTURE_DIR, cfg["name"] + ".txt")
        with open(path, "w") as f:
            f.write(f"# tapelab PyTorch oracle fixture: {cfg['name']}\n")
            f.write(f"# generated by tests/autodiff/make_torch_fixtures.py with torch {torch.__version__} "
                    "(float64); do not edit by hand\n")
            keys = ["L", "d_in", "width", "hidden", "d_out", "batch", "activation", "bias", "V", "alpha", "loss"]
            f.write("config " + " ".join(
                f"{k} {'%.17g' % cfg[k] if isinstance(cfg[k], float) else cfg[k]}" for k in keys) + "\n")
            if cfg["loss"] == "xent":
                f.write(f"labels {len(labels)}\n" + " ".join(str(int(v)) for v in labels) + "\n")
            write_tensor(f, "target", target)
            for name, t in p.items():
                write_tensor(f, name, t)
            write_tensor(f, "loss", loss.reshape(1, 1))
            for name, t in p.items():
                write_tensor(f, "grad_" + name, t.grad)
            for k, h in enumerate(hs):
                write_tensor(f, f"grad_h_{k}", h.grad)
        print("wrote", os.path.relpath(path), "loss %.17g" % loss.item())


if __name__ == "__main__":
    main()
