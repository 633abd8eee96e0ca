#!/usr/bin/python3
"""Independent reference for analysis/stats.cpp's ANOVAs (run with /usr/bin/python3).

Computes sums of squares as drops in the residual sum of squares of nested least-squares
fits on explicit dummy-coded model matrices (long format, one row per observation), and
degrees of freedom as drops in matrix rank. The C++ code uses marginal-mean formulas
instead, so agreement checks both.

Usage: anova_reference.py DESIGN_FILE
DESIGN_FILE: whitespace-separated sections, each optional, each at most once:
  mixed R L      then R lines: group_label y_1 ... y_L
  rm2 P A B      then P lines: A*B values, layer-major (y[a][b] at a*B + b)
  rm1 P K        then P lines: K values
Prints one JSON object, one "section.effect.field": value per line; fields ss, ss_error,
df, df_error, F, eta2 (partial eta squared).
"""
import json
import sys

import numpy as np


def one_hot(codes):
    codes = np.asarray(codes)
    levels = np.unique(codes)
    return (codes[:, None] == levels[None, :]).astype(float)


def interaction(a, b):
    """Every product of a column of a with a column of b."""
    return np.einsum("ni,nj->nij", a, b).reshape(a.shape[0], -1)


def fit(blocks, y):
    """Residual sum of squares and rank of the least-squares fit on the joined blocks."""
    x = np.hstack(blocks)
    beta, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ beta
    return float(r @ r), int(rank)


def sequential(y, terms):
    """terms: [(name, block)]; returns {name: (ss, df)} by adding terms in order to an
    intercept, plus ('residual', (rss, df))."""
    blocks = [np.ones((len(y), 1))]
    rss, rank = fit(blocks, y)
    out = {}
    for name, block in terms:
        blocks.append(block)
        new_rss, new_rank = fit(blocks, y)
        out[name] = (rss - new_rss, new_rank - rank)
        rss, rank = new_rss, new_rank
    out["residual"] = (rss, len(y) - rank)
    return out


def effect(out, prefix, ss_df, err_df):
    ss, df = ss_df
    sse, dfe = err_df
    out[prefix + ".ss"] = ss
    out[prefix + ".ss_error"] = sse
    out[prefix + ".df"] = df
    out[prefix + ".df_error"] = dfe
    out[prefix + ".F"] = (ss / df) / (sse / dfe)
    out[prefix + ".eta2"] = ss / (ss + sse)


def mixed(rows, out):
    groups = np.array([int(r[0]) for r in rows])
    data = np.array([r[1:] for r in rows], dtype=float)
    n_rows, n_layers = data.shape
    subj = np.repeat(np.arange(n_rows), n_layers)
    layer = np.tile(np.arange(n_layers), n_rows)
    grp = groups[subj]
    y = data.reshape(-1)
    g, s, l = one_hot(grp), one_hot(subj), one_hot(layer)
    ss = sequential(y, [("observer", g), ("subject", s), ("layer", l),
                        ("interaction", interaction(g, l))])
    effect(out, "mixed.observer", ss["observer"], ss["subject"])
    effect(out, "mixed.layer", ss["layer"], ss["residual"])
    effect(out, "mixed.interaction", ss["interaction"], ss["residual"])


def rm2(rows, n_layers, n_models, out):
    data = np.array(rows, dtype=float).reshape(len(rows), n_layers, n_models)
    p, a, b = np.meshgrid(np.arange(len(rows)), np.arange(n_layers), np.arange(n_models),
                          indexing="ij")
    y = data.reshape(-1)
    S, A, B = one_hot(p.reshape(-1)), one_hot(a.reshape(-1)), one_hot(b.reshape(-1))
    ss = sequential(y, [("subject", S), ("layer", A), ("model", B),
                        ("interaction", interaction(A, B)),
                        ("layer_x_subject", interaction(S, A)),
                        ("model_x_subject", interaction(S, B))])
    effect(out, "rm2.layer", ss["layer"], ss["layer_x_subject"])
    effect(out, "rm2.model", ss["model"], ss["model_x_subject"])
    effect(out, "rm2.interaction", ss["interaction"], ss["residual"])


def rm1(rows, out):
    data = np.array(rows, dtype=float)
    n, k = data.shape
    S = one_hot(np.repeat(np.arange(n), k))
    C = one_hot(np.tile(np.arange(k), n))
    ss = sequential(data.reshape(-1), [("subject", S), ("condition", C)])
    effect(out, "rm1.condition", ss["condition"], ss["residual"])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: anova_reference.py DESIGN_FILE")
    tokens = open(sys.argv[1]).read().split()
    pos = 0
    out = {}

    def take(n):
        nonlocal pos
        vals = tokens[pos:pos + n]
        if len(vals) != n:
            sys.exit("anova_reference.py: design file ends early")
        pos += n
        return vals

    while pos < len(tokens):
        kind = take(1)[0]
        if kind == "mixed":
            r, l = map(int, take(2))
            mixed([list(map(float, take(l + 1))) for _ in range(r)], out)
        elif kind == "rm2":
            p, a, b = map(int, take(3))
            rm2([list(map(float, take(a * b))) for _ in range(p)], a, b, out)
        elif kind == "rm1":
            p, k = map(int, take(2))
            rm1([list(map(float, take(k))) for _ in range(p)], out)
        else:
            sys.exit("anova_reference.py: unknown section " + repr(kind))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
