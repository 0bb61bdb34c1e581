#!/usr/bin/python3
"""numpy reference for tools/bench/features.sh: recomputes the features and
labels of strategies/neuro_mean_reversion.yaml (RSI 14, stochastic 14/3/3,
Bollinger band width 20/2, its 9 memberships, ZigZag 3 %) from the bars
kt-bench-features dumped, KTRDR-style (numpy where pandas vectorises, a
Python loop where KTRDR loops: RSI's Wilder recursion and the ZigZag), times
it, and checks that C and Python agree.
usage: reference.py DUMP"""
import sys
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as windows


def rsi(x, p):
    out = np.full(len(x), np.nan)
    d = np.diff(x)
    g, l = np.where(d > 0, d, 0.0), np.where(d < 0, -d, 0.0)
    ag, al = g[:p].mean(), l[:p].mean()

    def val(ag, al):
        if al == 0:
            return 50.0 if ag == 0 else 100.0
        return 100 - 100 / (1 + ag / al)

    out[p] = val(ag, al)
    for i in range(p + 1, len(x)):
        ag = (ag * (p - 1) + g[i - 1]) / p
        al = (al * (p - 1) + l[i - 1]) / p
        out[i] = val(ag, al)
    return out


def nan_rolling_mean(x, w):  # pandas rolling(w, min_periods=1).mean()
    pad = np.concatenate([np.full(w - 1, np.nan), x])
    win = windows(pad, w)
    cnt = (~np.isnan(win)).sum(axis=1)
    s = np.nansum(win, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


def stoch_k(h, l, c, k, smooth):
    hh = np.full(len(c), np.nan)
    ll = np.full(len(c), np.nan)
    hh[k - 1:] = windows(h, k).max(axis=1)
    ll[k - 1:] = windows(l, k).min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(hh == ll, 50.0, 100 * (c - ll) / (hh - ll))
    raw[: k - 1] = np.nan
    return nan_rolling_mean(raw, smooth)


def bbw(x, p, m):
    out = np.full(len(x), np.nan)
    w = windows(x, p)
    mid = w.mean(axis=1)
    sd = w.std(axis=1, ddof=1)
    out[p - 1:] = np.where(np.abs(mid) > 1e-10, 2 * m * sd / mid, 0.0)
    return out


def tri(x, a, b, c):
    eps = np.finfo(float).eps
    y = np.where(x < b, (x - a) / max(b - a, eps), (c - x) / max(c - b, eps))
    y = np.where((x <= a) | (x >= c), 0.0, y)
    y = np.where(x == b, 1.0, y)
    return np.where(np.isnan(x), 0.0, y)


def trap(x, a, b, c, d):
    eps = np.finfo(float).eps
    y = np.where(x < b, (x - a) / max(b - a, eps), (d - x) / max(d - c, eps))
    y = np.where((x <= a) | (x >= d), 0.0, y)
    y = np.where((x >= b) & (x <= c), 1.0, y)
    return np.where(np.isnan(x), 0.0, y)


def gauss(x, mu, s):
    return np.where(np.isnan(x), 0.0, np.exp(-0.5 * ((x - mu) / s) ** 2))


def zigzag_labels(x, t):
    ext, last, direction = [0], x[0], 0
    for i in range(1, len(x)):
        pct = (x[i] - last) / last
        if direction == 0:
            if abs(pct) >= t:
                direction = 1 if pct > 0 else -1
                ext.append(i)
                last = x[i]
        elif (direction == 1 and x[i] > last) or (direction == -1 and x[i] < last):
            ext[-1], last = i, x[i]
        elif (direction == 1 and pct <= -t) or (direction == -1 and pct >= t):
            direction = -direction
            ext.append(i)
            last = x[i]
    lab = np.ones(len(x), dtype=np.uint8)
    for a, b in zip(ext, ext[1:]):
        lab[a + 1:b] = 0 if x[b] > x[a] else 2
    return lab


def main():
    with open(sys.argv[1], "rb") as f:
        n, cols = np.frombuffer(f.read(16), dtype=np.uint64)
        n, cols = int(n), int(cols)
        c, h, l = (np.frombuffer(f.read(8 * n), dtype=np.float64) for _ in range(3))
        feats = np.frombuffer(f.read(4 * n * cols), dtype=np.float32).reshape(n, cols)
        labels = np.frombuffer(f.read(n), dtype=np.uint8)
    t0 = time.perf_counter()
    r, k, w = rsi(c, 14), stoch_k(h, l, c, 14, 3), bbw(c, 20, 2.0)
    py = np.stack([
        tri(r, 0, 20, 35), tri(r, 30, 50, 70), tri(r, 65, 80, 100),
        trap(k, 0, 0, 10, 30), tri(k, 20, 50, 80), trap(k, 70, 90, 100, 100),
        gauss(w, 0.02, 0.01), gauss(w, 0.05, 0.015), trap(w, 0.06, 0.1, 1.0, 1.0),
    ], axis=1).astype(np.float32)
    lab = zigzag_labels(c, 0.03)
    secs = time.perf_counter() - t0
    diff = float(np.max(np.abs(py - feats))) if n else 0.0
    agree = "yes" if diff < 1e-5 and np.array_equal(lab, labels) else "no"
    print(f"bars={n} bars_per_s={n / secs:.0f} max_abs_diff={diff:.3g} "
          f"labels_equal={np.array_equal(lab, labels)} agree={agree}")


main()
