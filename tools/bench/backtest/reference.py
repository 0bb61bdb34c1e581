#!/usr/bin/python3
"""Python reference for the backtest benchmark: KTRDR's bar loop as the
reference describes it (docs/backtest.md) -- per bar, fill the pending signal
at the open, build a float32 tensor from the feature row, run the torch MLP
under no_grad, softmax in numpy unless the outputs already sum to 1, argmax,
confidence / separation / position-awareness filters, mark to market at the
close; force-close at the end. Same costs, sizing and P&L rules as the C
engine, same model and data (read from the file kt-bench-backtest --dump
writes).

usage: reference.py DUMP_FILE [MAX_BARS]
prints one line of key=value pairs (bars, seconds, bars_per_s, trades,
final_equity).
"""
import math
import struct
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)


def read_dump(path):
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != b"KTBT0001":
        raise SystemExit("reference.py: not a kt-bench-backtest dump")
    off = 8
    n, nf, nl = struct.unpack_from("<3Q", buf, off)
    off += 24
    shapes = []
    for _ in range(nl):
        shapes.append(struct.unpack_from("<2Q", buf, off))
        off += 16
    cfg = struct.unpack_from("<6d3Q", buf, off)
    off += 6 * 8 + 3 * 8
    t = np.frombuffer(buf, "<i8", n, off)
    off += 8 * n
    op = np.frombuffer(buf, "<f8", n, off)
    off += 8 * n
    cl = np.frombuffer(buf, "<f8", n, off)
    off += 8 * n
    x = np.frombuffer(buf, "<f4", n * nf, off).reshape(n, nf)
    off += 4 * n * nf
    layers = []
    for fan_in, fan_out in shapes:
        w = np.frombuffer(buf, "<f4", fan_in * fan_out, off)
        off += 4 * fan_in * fan_out
        b = np.frombuffer(buf, "<f4", fan_out, off)
        off += 4 * fan_out
        layers.append((w.reshape(fan_out, fan_in), b))
    return t, op, cl, x, layers, cfg


def build_model(layers):
    mods = []
    for i, (w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        mods.append(lin)
        if i + 1 < len(layers):
            mods += [torch.nn.ReLU(), torch.nn.Dropout(0.2)]
    return torch.nn.Sequential(*mods).eval()


class Book:
    """One position, fixed fraction of cash, slippage and commission."""

    def __init__(self, capital, commission, slippage, fraction):
        self.cash = capital
        self.c, self.s, self.frac = commission, slippage, fraction
        self.side = 0  # 0 flat, 1 long, 2 short
        self.qty = 0
        self.entry = 0.0
        self.entry_comm = 0.0
        self.trades = []

    def _open(self, side, price):
        ex = price * (1 + self.s) if side == 1 else price * (1 - self.s)
        q = math.floor(self.frac * self.cash / (1 + self.c) / price)
        if q * ex * (1 + self.c) > self.cash:
            q = math.floor(self.cash / (1 + self.c) / ex)
        if q < 1:
            return False
        self.side, self.qty, self.entry = side, q, ex
        self.entry_comm = ex * q * self.c
        self.cash -= ex * q + self.entry_comm
        return True

    def _close(self, price):
        long = self.side == 1
        ex = price * (1 - self.s) if long else price * (1 + self.s)
        ev, xv = self.entry * self.qty, ex * self.qty
        comm = xv * self.c
        gross = xv - ev if long else ev - xv
        self.cash += xv - comm if long else ev + gross - comm
        self.trades.append(gross - self.entry_comm - comm)
        self.side, self.qty = 0, 0
        return True

    def execute(self, sig, price, allow_short):
        if (sig == 0 and self.side == 2) or (sig == 2 and self.side == 1):
            return self._close(price)
        if sig == 0 and self.side == 0:
            return self._open(1, price)
        if sig == 2 and self.side == 0 and allow_short:
            return self._open(2, price)
        return False

    def equity(self, price):
        if self.side == 1:
            return self.cash + price * self.qty
        if self.side == 2:
            return self.cash + 2 * self.entry * self.qty - price * self.qty
        return self.cash


def run(t, op, cl, x, model, cfg, n):
    capital, comm, slip, frac, thr, sep_h, warm, aware, short = cfg
    book = Book(capital, comm, slip, frac)
    pending, last_fill, equity = 1, None, []
    for i in range(warm, n):
        if pending != 1:
            if book.execute(pending, op[i], short):
                last_fill = t[i]
            pending = 1
        values = [float(v) for v in x[i]]
        with torch.no_grad():
            out = model(torch.tensor(values, dtype=torch.float32).unsqueeze(0))
        raw = out[0].numpy()
        if abs(float(np.sum(raw)) - 1.0) < 1e-6:
            probs = raw
        else:
            e = np.exp(raw - np.max(raw))
            probs = e / np.sum(e)
        k = int(np.argmax(probs))
        conf = float(probs[k])
        sig = k
        if math.isnan(conf) or conf < thr:
            sig = 1
        elif last_fill is not None and (t[i] - last_fill) / 3600 < sep_h:
            sig = 1
        elif aware and ((book.side == 1 and k == 0) or
                        (book.side == 2 and k == 2) or
                        (book.side == 0 and k == 2 and not short)):
            sig = 1
        if sig != 1:
            pending = sig
        equity.append(book.equity(cl[i]))
    if book.side != 0:
        book._close(cl[n - 1])
        equity[-1] = book.cash
    return book, equity


def main():
    t, op, cl, x, layers, cfg = read_dump(sys.argv[1])
    n = len(t) if len(sys.argv) < 3 else min(len(t), int(sys.argv[2]))
    model = build_model(layers)
    t0 = time.perf_counter()
    book, equity = run(t, op, cl, x, model, cfg, n)
    dt = time.perf_counter() - t0
    bars = n - cfg[6]
    print(f"bars={bars} seconds={dt:.6f} bars_per_s={bars / dt:.1f} "
          f"trades={len(book.trades)} final_equity={equity[-1]:.6f}")


if __name__ == "__main__":
    main()
