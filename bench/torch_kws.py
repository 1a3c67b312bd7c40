#!/usr/bin/env python3
# PyTorch (CPU) side of the kws benchmark sections (bench/kws.ts): the kws preset's architecture
# in torch, timed on request so that Node can interleave it with Graduate's runs. A JSON-lines
# server: one command per line on stdin, one JSON answer per line on stdout. The first line out is
# {"ready": true, "torch": version} or {"ready": false, "error": why} (then it exits).
# Commands:
#   {"cmd": "data", "x": file, "y": file, "n": N, "T": T, "C": C}  float32 [N, T, C], int32 [N]
#   {"cmd": "weights", "file": safetensors}  Graduate's kws weights (names '0.weight', '1.weight',
#       ..., as its checkpoints store them) loaded into the torch model, converted to torch layouts
#   {"cmd": "train", "threads": t, "batches": b, "batch": B, "lr": lr, "warmup": w, "seed": s}
#       → {"samplesPerSecond"}: full steps (batch gather, forward, loss, backward, Adam, argmax)
#   {"cmd": "infer", "threads": t, "batches": [32, 256], "minTrialMs", "trials", "warmup",
#    "latRuns", "latWarmup", "jit": bool} → {"eager": {"perSecond": {B: x}, "p50", "p99"}, "jit"}
#   {"cmd": "logits", "n": n} → {"logits": [n·classes]} of the first n samples (eval mode)
#   {"cmd": "quit"}
# Data go in as [N, C, T] (transposed once, here): the layout torch's Conv1d takes.
# Not for: Graduate's side or the report (bench/kws.ts).
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
except Exception as e:  # noqa: BLE001 - any import failure means: skip with the reason
    print(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}), flush=True)
    sys.exit(0)


def same_padding(T, K, stride):
    """Graduate's 'same' (src/nn/sequence.ts): ⌈T / stride⌉ steps, the odd cell on the right."""
    total = max((-(-T // stride) - 1) * stride + K - T, 0)
    return total // 2, total - total // 2


class Kws(nn.Module):
    """conv1d 64 (kernel 3, stride 2, 'same', no bias) → batchnorm → relu → GRU 64 → linear."""

    def __init__(self, T, C, classes, width=64, hidden=64):
        super().__init__()
        self.pad = nn.ConstantPad1d(same_padding(T, 3, 2), 0.0)
        self.conv = nn.Conv1d(C, width, 3, stride=2, bias=False)
        self.bn = nn.BatchNorm1d(width, eps=1e-5)
        self.gru = nn.GRU(width, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):  # x [N, C, T]
        h = torch.relu(self.bn(self.conv(self.pad(x))))  # [N, 64, T']
        _, hn = self.gru(h.transpose(1, 2))  # hn [1, N, H]: the last step
        return self.fc(hn[-1])


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8 : 8 + n])
    data = buf[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: '{name}' is {t['dtype']}, expected F32")
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(t["shape"])
    return out


def load_graduate(model, w):
    """Graduate's layouts → torch's: conv [K, C, out] → [out, C, K]; linear [in, out] → [out, in];
    GRU [in, 3H] gates (z, r, n) → [3H, in] gates (r, z, n)."""
    H = model.gru.hidden_size

    def gates(a):  # [..., 3H] (z, r, n) → rows (r, z, n) of [3H, ...]
        a = np.ascontiguousarray(a.T) if a.ndim == 2 else a
        return np.concatenate([a[H : 2 * H], a[:H], a[2 * H :]])

    t = lambda a: torch.from_numpy(np.array(a))  # noqa: E731 - a writable, contiguous copy
    state = {
        "conv.weight": t(w["0.weight"].transpose(2, 1, 0)),
        "bn.weight": t(w["1.weight"]),
        "bn.bias": t(w["1.bias"]),
        "bn.running_mean": t(w["1.running_mean"]),
        "bn.running_var": t(w["1.running_var"]),
        "gru.weight_ih_l0": t(gates(w["3.weight_ih_l0"])),
        "gru.weight_hh_l0": t(gates(w["3.weight_hh_l0"])),
        "gru.bias_ih_l0": t(gates(w["3.bias_ih_l0"])),
        "gru.bias_hh_l0": t(gates(w["3.bias_hh_l0"])),
        "fc.weight": t(w["4.weight"].T),
        "fc.bias": t(w["4.bias"]),
    }
    model.load_state_dict(state, strict=False)  # strict=False: bn.num_batches_tracked stays


def time_ms(fn, min_trial_ms, trials, warmup):
    """bench/timing.ts's timeMs: warm up, grow the repetitions until a trial takes min_trial_ms,
    then the median of `trials` trials, in ms per call."""

    def calls(n):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) * 1000

    calls(warmup)
    reps = 1
    while True:
        dt = calls(reps)
        if dt < min_trial_ms / 4 and reps <= 1 << 20:
            reps *= 4
            continue
        reps = max(1, math.ceil(reps * min_trial_ms / max(dt, 1e-3)))
        break
    per = sorted(calls(reps) / reps for _ in range(trials))
    return per[len(per) // 2]


def quantile(a, p):
    s = sorted(a)
    return s[min(len(s) - 1, math.ceil(p * len(s)) - 1)]


class Server:
    def __init__(self):
        self.x = None  # [N, C, T]
        self.y = None
        self.shape = None  # (T, C)
        self.weights = None
        torch.set_num_interop_threads(1)

    def model(self, seed=0, trained=True):
        """The kws model: Graduate's weights when given (and trained), else torch's initialization."""
        torch.manual_seed(seed)
        T, C = self.shape
        m = Kws(T, C, int(self.y.max()) + 1 if self.weights is None else self.weights["4.bias"].shape[0])
        if trained and self.weights is not None:
            load_graduate(m, self.weights)
        return m

    def data(self, c):
        N, T, C = c["n"], c["T"], c["C"]
        x = np.fromfile(c["x"], dtype=np.float32, count=N * T * C).reshape(N, T, C)
        self.x = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 1)))
        self.y = torch.from_numpy(np.fromfile(c["y"], dtype=np.int32, count=N).astype(np.int64))
        self.shape = (T, C)
        return {"n": N}

    def load_weights(self, c):
        self.weights = read_safetensors(c["file"])
        return {"tensors": len(self.weights)}

    def train(self, c):
        torch.set_num_threads(c["threads"])
        B = c["batch"]
        m = self.model(c.get("seed", 0), trained=False)
        m.train()
        opt = torch.optim.Adam(m.parameters(), lr=c["lr"])
        loss_fn = nn.CrossEntropyLoss()
        g = torch.Generator().manual_seed(c.get("seed", 0))
        N = self.x.shape[0]

        def step(order, b):
            idx = order[(b * B) % (N - B + 1) :][:B]
            x, y = self.x[idx], self.y[idx]
            logits = m(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            # as Graduate's fit loop: the loss and the batch's correct count read back
            return loss.item(), int((logits.argmax(1) == y).sum())

        order = torch.randperm(N, generator=g)
        for b in range(c.get("warmup", 3)):
            step(order, b)
        t0 = time.perf_counter()
        for b in range(c["batches"]):
            step(order, b)
        s = time.perf_counter() - t0
        return {"samplesPerSecond": c["batches"] * B / s}

    def infer(self, c):
        torch.set_num_threads(c["threads"])
        m = self.model()
        m.eval()
        runners = {"eager": m}
        with torch.no_grad():
            if c.get("jit", True):
                runners["jit"] = torch.jit.freeze(torch.jit.trace(m, self.x[:1]))
            N = self.x.shape[0]
            out = {k: {"perSecond": {}} for k in runners}
            for B in c["batches"]:
                xb = self.x[:B] if B <= N else self.x.repeat((B + N - 1) // N, 1, 1)[:B]
                for k, r in runners.items():
                    ms = time_ms(lambda: r(xb), c["minTrialMs"], c["trials"], c["warmup"])
                    out[k]["perSecond"][str(B)] = B * 1000 / ms
            # batch 1: single-sample runs round-robin over the runners (sample r for run r)
            for k, r in runners.items():
                for i in range(c["latWarmup"]):
                    r(self.x[i % N : i % N + 1])
            lat = {k: [] for k in runners}
            for i in range(c["latRuns"]):
                xi = self.x[i % N : i % N + 1]
                for k, r in runners.items():
                    t0 = time.perf_counter()
                    r(xi)
                    lat[k].append((time.perf_counter() - t0) * 1000)
        for k in runners:
            out[k]["p50"] = quantile(lat[k], 0.5)
            out[k]["p99"] = quantile(lat[k], 0.99)
        return out

    def logits(self, c):
        m = self.model()
        m.eval()
        with torch.no_grad():
            return {"logits": m(self.x[: c["n"]]).reshape(-1).tolist()}


def blas():
    """The BLAS this torch calls for GEMMs (Debian's python3-torch takes the system libblas.so.3,
    netlib's reference BLAS unless OpenBLAS or BLIS is installed as the alternative), and the
    GFLOP/s of a 256³ torch.mm on one thread, which tells them apart."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))  # loads the library
    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if any(k in ln for k in ("blas", "mkl", "lapack"))})
    real = [os.path.realpath(x) for x in libs if x.startswith("/")]
    torch.set_num_threads(1)
    a = torch.rand(256, 256)
    ms = time_ms(lambda: torch.mm(a, a), 50, 3, 2)
    return {"libraries": sorted(set(real)), "mkl": torch.backends.mkl.is_available(), "mm256Gflops": 2 * 256**3 / ms / 1e6}


def main():
    s = Server()
    info = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas()}
    print(json.dumps(info), flush=True)
    handlers = {"data": s.data, "weights": s.load_weights, "train": s.train, "infer": s.infer, "logits": s.logits}
    for line in sys.stdin:
        c = json.loads(line)
        if c["cmd"] == "quit":
            break
        try:
            out = handlers[c["cmd"]](c)
        except Exception as e:  # noqa: BLE001 - reported to Node, which names the command
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
