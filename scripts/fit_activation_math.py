#!/usr/bin/env python3
"""Regenerates the approximation coefficients of kernels/detail/simd_math.hpp (needs mpmath: python3-mpmath).

  exp(r) on [-ln2/2, ln2/2]: near-minimax polynomials (Chebyshev interpolation, mpmath.chebyfit),
      degree 11 for double (error 3e-18) and 6 for float (2e-9);
  exp(r) - 1 = r g(r) on [-ln2/16, ln2/16] (AVX-512 double's table exponential, ExpTable): g of degree 6
      (error 1e-16 in g, so below 5e-18 in r g), and the table 2^{j/8} = hi + lo, j = 0..7;
  erfcx(s) = e^{s^2} erfc(s) on [0, S]: rational P_n(s) / Q_{n+1}(s) with Q(0) = 1, fitted for minimal relative
      error by a linearised least-squares fit on 400 points, reweighted towards the minimax error (Lawson's
      iteration); degrees 9/10 on [0, 27] for double (max relative error 5e-17), 4/5 on [0, 9.5] for float
      (5e-9), and 7/8 on [0, 3.5] for double's near range (HalfErfcxNear, 2.6e-17). Q's degree exceeds P's by
      one, so P/Q decays like erfcx(s) ~ 1/(s sqrt(pi)).

The header stores P halved (P/Q = erfcx/2). Prints the coefficients, lowest order first, and the measured max
relative error on a dense grid. Takes about twenty seconds (60-digit arithmetic).
"""
import mpmath as mp

mp.mp.dps = 60


def exp_polynomial(degree):
    half = mp.log(2) / 2 * mp.mpf("1.001")  # a margin: k is rounded without an FMA on SSE2
    poly, err = mp.chebyfit(mp.exp, [-half, half], degree + 1, error=True)
    return poly[::-1], err


def expm1_over_r_polynomial(degree):
    eighth = mp.log(2) / 16 * mp.mpf("1.001")
    g = lambda r: mp.expm1(r) / r if r != 0 else mp.mpf(1)
    poly, err = mp.chebyfit(g, [-eighth, eighth], degree + 1, error=True)
    return poly[::-1], err


def erfcx_rational(n, S, points=400, iterations=12):
    f = lambda s: mp.erfc(s) * mp.exp(s * s)
    # Points clustered at both ends of [0, S] (Chebyshev), then squared: denser near 0, where erfcx bends most.
    nodes = [S * ((1 - mp.cos(mp.pi * (k + mp.mpf(0.5)) / points)) / 2) ** 2 for k in range(points)]
    values = [f(s) for s in nodes]
    m = n + 1
    weights = [mp.mpf(1)] * points
    for _ in range(iterations):
        # min sum w^2 ((P(s) - f(s) Q(s)) / f(s))^2 over p_0..p_n, q_1..q_m (q_0 = 1): linear in the unknowns.
        rows = [[w * s**i / v for i in range(n + 1)] + [-w * s**j for j in range(1, m + 1)]
                for s, v, w in zip(nodes, values, weights)]
        x = mp.qr_solve(mp.matrix(rows), mp.matrix(weights))[0]
        p = [x[i] for i in range(n + 1)]
        q = [mp.mpf(1)] + [x[n + j] for j in range(1, m + 1)]
        r = lambda s: mp.polyval(p[::-1], s) / mp.polyval(q[::-1], s)
        errors = [r(s) / v - 1 for s, v in zip(nodes, values)]
        worst = max(abs(e) for e in errors)
        weights = [w * mp.sqrt(abs(e) / worst + mp.mpf("1e-6")) for w, e in zip(weights, errors)]
    grid = [S * mp.mpf(k) / 2999 for k in range(3000)]
    return p, q, max(abs(r(s) / f(s) - 1) for s in grid)


def show(name, coefficients):
    print(f"{name} = {{" + ", ".join(repr(float(c)) for c in coefficients) + "}")


if __name__ == "__main__":
    for precision, degree in (("double", 11), ("float", 6)):
        c, err = exp_polynomial(degree)
        print(f"exp {precision} degree {degree}: max error {mp.nstr(err, 3)}")
        show("  c", c)
    g, err = expm1_over_r_polynomial(6)
    print(f"(exp(r) - 1)/r double degree 6 on |r| <= ln2/16: max error {mp.nstr(err, 3)}")
    show("  g", g)
    table = [mp.mpf(2) ** (mp.mpf(j) / 8) for j in range(8)]
    print("  2^(j/8) hi = {" + ", ".join(float(t).hex() for t in table) + "}")
    print("  2^(j/8) lo = {" + ", ".join(float(t - mp.mpf(float(t))).hex() for t in table) + "}")
    for precision, n, S in (("double", 9, 27), ("float", 4, mp.mpf("9.5")), ("double near", 7, mp.mpf("3.5"))):
        p, q, err = erfcx_rational(n, mp.mpf(S))
        print(f"erfcx {precision} degrees {n}/{n + 1} on [0, {mp.nstr(S, 3)}]: max relative error {mp.nstr(err, 3)}")
        show("  p", p)
        show("  q", q)
