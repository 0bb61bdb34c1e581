"""PyTorch reference of the C trainer's epoch (tools/bench/training.sh).

Same data (read from the C driver's dump), same model (Linear/ReLU/Dropout
[64, 32] -> 3), Adam(lr 1e-3, weight_decay 1e-4), inverse-frequency class
weighted cross-entropy, clip_grad_norm_(1.0), temporal 70/15/15 split,
shuffled mini-batches, full validation pass per epoch, one thread.
usage: torch_ref.py DUMP ROWS COLS BATCH EPOCHS  -> fastest epoch (s), val acc
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def main():
    path, rows, cols, batch, epochs = sys.argv[1], *map(int, sys.argv[2:6])
    torch.set_num_threads(1)
    torch.manual_seed(1)
    raw = np.fromfile(path, dtype=np.uint8)
    x = torch.from_numpy(raw[: rows * cols * 4].view(np.float32).reshape(rows, cols).copy())
    y = torch.from_numpy(raw[rows * cols * 4 :].astype(np.int64))
    n_train, n_val = int(rows * 0.7), int(rows * 0.15)
    xt, yt = x[:n_train], y[:n_train]
    xv, yv = x[n_train : n_train + n_val], y[n_train : n_train + n_val]
    counts = torch.bincount(yt, minlength=3).double()
    w = torch.where(counts > 0, 1.0 / counts.clamp(min=1), torch.zeros(3, dtype=torch.float64))
    w = torch.where(counts > 0, w, w.max())
    w = (w * 3 / w.sum()).float()
    model = nn.Sequential(
        nn.Linear(cols, 64), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(32, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    crit = nn.CrossEntropyLoss(weight=w)
    times, acc = [], 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n_train)
        total = 0.0
        for i in range(0, n_train, batch):
            idx = perm[i : i + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            out = model(xb)
            loss = crit(out, yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item()
            (out.argmax(1) == yb).sum().item()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            crit(out, yv).item()
            acc = (out.argmax(1) == yv).float().mean().item()
        times.append(time.perf_counter() - t0)
    print(f"{min(times):.6f} {acc:.4f}")


if __name__ == "__main__":
    main()
