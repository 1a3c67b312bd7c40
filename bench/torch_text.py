# PyTorch CPU training throughput of the text-transformer preset's architecture, for bench/text.ts:
# embedding D + learned positions → dropout 0.1 → LAYERS pre-norm nn.TransformerEncoderLayer (HEADS
# heads, FFN, exact GELU, dropout 0.1) with the padding mask → layer norm → masked mean → linear
# (the sizes bench/text.ts passes: the preset's). Reads int32 ids [n, L] (−1 = padding) and int32 labels from
# files; prints one JSON line {"samplesPerSecond"} per call (Adam, batch, warm-up steps untimed).
# Usage: torch_text.py IDS LABELS L VOCAB CLASSES THREADS BATCHES BATCH LR D LAYERS HEADS FFN
import json
import sys
import time

import numpy as np
import torch
from torch import nn

ids_f, labels_f, L, V, C, threads, batches, batch, lr, D, n_layers, heads, ffn = sys.argv[1:14]
L, V, C, threads, batches, batch, lr = int(L), int(V), int(C), int(threads), int(batches), int(batch), float(lr)
D, n_layers, heads, ffn = int(D), int(n_layers), int(heads), int(ffn)
torch.set_num_threads(threads)
torch.manual_seed(0)
ids = torch.from_numpy(np.fromfile(ids_f, dtype=np.int32).reshape(-1, L).astype(np.int64))
labels = torch.from_numpy(np.fromfile(labels_f, dtype=np.int32).astype(np.int64))


class TextTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(L, D) * 0.02)
        self.drop = nn.Dropout(0.1)
        layer = lambda: nn.TransformerEncoderLayer(D, heads, ffn, 0.1, activation='gelu', batch_first=True, norm_first=True)
        self.layers = nn.ModuleList([layer() for _ in range(n_layers)])
        self.norm = nn.LayerNorm(D)
        self.out = nn.Linear(D, C)

    def forward(self, x):
        real = x > 0
        h = self.drop(self.emb(x.clamp(min=0)) + self.pos)
        for layer in self.layers:
            h = layer(h, src_key_padding_mask=~real)
        h = self.norm(h)
        m = real.unsqueeze(-1).float()
        return self.out((h * m).sum(1) / m.sum(1).clamp(min=1))


model = TextTransformer().train()
opt = torch.optim.Adam(model.parameters(), lr=lr)
n = ids.shape[0]


def step(b):
    i = (b * batch) % max(1, n - batch + 1)
    x, y = ids[i:i + batch], labels[i:i + batch]
    opt.zero_grad()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    opt.step()
    loss.item()
    logits.argmax(1)


for b in range(2):
    step(b)
t0 = time.perf_counter()
for b in range(batches):
    step(b)
print(json.dumps({'samplesPerSecond': batches * batch / (time.perf_counter() - t0), 'torch': torch.__version__}))
