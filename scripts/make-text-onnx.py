# Writes the text-model ONNX fixtures of test/onnx/text-import.test.ts (test/fixtures/onnx/text/):
# tiny BERT-style encoders from PyTorch with seeded random weights (no training), exported by
# torch.onnx the way a PyTorch user exports them. Each is
#   token embedding (50 ids, d 32, [PAD] = 0) + learned positions (16) →
#   nn.TransformerEncoder(2 × TransformerEncoderLayer(d 32, 4 heads, FFN 64, GELU (erf), dropout 0,
#   batch_first)) with src_key_padding_mask from the padding → masked mean over tokens →
#   Linear(32, 3) → logits [N, 3]
# with dynamic batch and sequence axes ('batch', 'tokens'):
#   bert-pre.onnx    norm_first=True + a final LayerNorm, inputs input_ids and attention_mask (int64
#                    [N, L], BERT's pair; 1 = real token), opset 17 (LayerNormalization as one op)
#   bert-post.onnx   norm_first=False, one input input_ids (int64 [N, L]); the mask is ids != 0,
#                    computed in the graph; opset 14 (layer norm decomposed into ReduceMean, Sub, …)
# Expected outputs are not written: the test runs ONNX Runtime (and checks it against the PyTorch
# outputs printed here by hand when the fixture changes). Run with Debian's torch and onnx:
#   /usr/bin/python3 scripts/make-text-onnx.py [OUT_DIR]
import os
import sys

import onnx
import torch
from torch import nn

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx', 'text')
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(18)
VOCAB, D, HEADS, FFN, MAX_LEN, CLASSES = 50, 32, 4, 64, 16, 3


class Bert(nn.Module):
    def __init__(self, norm_first):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D, padding_idx=0)
        self.positions = nn.Embedding(MAX_LEN, D)
        layer = nn.TransformerEncoderLayer(
            D, HEADS, FFN, dropout=0.0, activation='gelu', batch_first=True, norm_first=norm_first
        )
        # nested tensors (the padding dropped inside the encoder) do not export
        self.encoder = nn.TransformerEncoder(
            layer, 2, norm=nn.LayerNorm(D) if norm_first else None, enable_nested_tensor=False
        )
        self.head = nn.Linear(D, CLASSES)

    def forward(self, input_ids, attention_mask=None):
        if attention_mask is None:
            attention_mask = (input_ids != 0).long()
        L = input_ids.shape[1]
        pos = torch.arange(L, device=input_ids.device).unsqueeze(0)
        h = self.embed(input_ids) + self.positions(pos)
        h = self.encoder(h, src_key_padding_mask=attention_mask == 0)
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(pooled)


def batch():
    """Three texts of 9, 5 and 2 real tokens padded with 0 to L = 9 (ids 1..49)."""
    ids = torch.randint(1, VOCAB, (3, 9))
    for i, n in enumerate([9, 5, 2]):
        ids[i, n:] = 0
    return ids, (ids != 0).long()


def save(model, name, with_mask, opset):
    ids, mask = batch()
    path = os.path.join(OUT, name)
    args = (ids, mask) if with_mask else (ids,)
    names = ['input_ids', 'attention_mask'] if with_mask else ['input_ids']
    axes = {n: {0: 'batch', 1: 'tokens'} for n in names}
    axes['logits'] = {0: 'batch'}
    # parameters that want gradients keep the encoder off its fused inference path (one op ONNX lacks)
    torch.onnx.export(
        model, args, path, input_names=names, output_names=['logits'], dynamic_axes=axes, opset_version=opset
    )
    m = onnx.load(path)
    m.producer_name = 'graduate-fixture'
    onnx.checker.check_model(m)
    onnx.save(m, path)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f'{path}: {os.path.getsize(path)} bytes, opset {opset}, ops {" ".join(ops)}')
    with torch.no_grad():
        print('  ids', ids.tolist())
        print('  logits', model(*args).tolist())


def randomize(model):
    """Weights away from PyTorch's initial ones (layer norms not 1/0), so a wrong axis or affine shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'norm' in name:
                p.uniform_(0.5, 1.5) if name.endswith('weight') else p.uniform_(-0.3, 0.3)
            elif name.endswith('bias'):
                p.uniform_(-0.2, 0.2)
        model.embed.weight[0].zero_()
    return model.eval()


save(randomize(Bert(norm_first=True)), 'bert-pre.onnx', with_mask=True, opset=17)
save(randomize(Bert(norm_first=False)), 'bert-post.onnx', with_mask=False, opset=14)
