# Writes the speech-model ONNX fixtures of test/onnx/speech-import.test.ts (test/fixtures/onnx/speech/):
# tiny PyTorch sequence models with seeded random weights (no training), exported by torch.onnx the
# way a PyTorch user exports them. Expected outputs are not written: the test runs ONNX Runtime.
#   gru.onnx            nn.GRU(8, 6, batch_first=True) over x [N, 7, 8] → (y [N, 7, 6], h_n [1, N, 6])
#   lstm-bi2.onnx       nn.LSTM(8, 5, num_layers=2, bidirectional=True, batch_first=True) → y [N, 7, 10]
#   conv1d.onnx         x [N, 6, 16] → Conv1d(6, 8, 3, stride 2, dilation 2, groups 2, padding 2) →
#                       ReLU → depthwise Conv1d(8, 8, 5, groups 8, padding 2) → Conv1d(8, 4, 1)
#   kws.onnx            a keyword model on x [N, T = 20, C = 10] (Graduate's [N, T, C]): transpose →
#                       Conv1d(10, 16, 3, stride 2, padding 1) → BatchNorm1d → ReLU → transpose →
#                       GRU(16, 12, batch_first) → last step → Linear(12, 4)
#   kws-dyn-time.onnx   the same model with the time axis symbolic too ('time')
# Every model has a symbolic batch axis ('batch'). Run with Debian's torch and onnx:
#   /usr/bin/python3 scripts/make-speech-onnx.py [OUT_DIR]
import os
import sys

import onnx
import torch
from torch import nn

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx', 'speech')
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(17)


def randomize(model):
    """Non-uniform weights and BatchNorm statistics away from 0/1 (so a wrong gate or axis shows)."""
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def save(model, name, shape, outputs, dynamic):
    x = torch.randn(*shape)
    path = os.path.join(OUT, name)
    axes = {'x': dynamic, **{o: {1 if o == 'h_n' else 0: 'batch'} for o in outputs}}  # h_n [layers, N, H]
    torch.onnx.export(model, (x,), path, input_names=['x'], output_names=outputs, dynamic_axes=axes, opset_version=14)
    m = onnx.load(path)
    m.producer_name = 'graduate-fixture'
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print(f'{path}: {os.path.getsize(path)} bytes')


class Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 6, batch_first=True)

    def forward(self, x):
        return self.gru(x)


class LstmBi2(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 5, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


class Conv1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv1d(6, 8, 3, stride=2, dilation=2, groups=2, padding=2)
        self.b = nn.Conv1d(8, 8, 5, groups=8, padding=2)
        self.c = nn.Conv1d(8, 4, 1)

    def forward(self, x):
        return self.c(self.b(torch.relu(self.a(x))))


class Kws(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(10, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm1d(16)
        self.gru = nn.GRU(16, 12, batch_first=True)
        self.fc = nn.Linear(12, 4)

    def forward(self, x):  # x [N, T, C]
        h = torch.relu(self.bn(self.conv(x.transpose(1, 2)))).transpose(1, 2)
        y, _ = self.gru(h)
        return self.fc(y[:, -1])


save(randomize(Gru()), 'gru.onnx', (2, 7, 8), ['y', 'h_n'], {0: 'batch'})
save(randomize(LstmBi2()), 'lstm-bi2.onnx', (2, 7, 8), ['y'], {0: 'batch'})
save(randomize(Conv1d()), 'conv1d.onnx', (2, 6, 16), ['y'], {0: 'batch'})
kws = randomize(Kws())
save(kws, 'kws.onnx', (2, 20, 10), ['logits'], {0: 'batch'})
save(kws, 'kws-dyn-time.onnx', (2, 20, 10), ['logits'], {0: 'batch', 1: 'time'})
