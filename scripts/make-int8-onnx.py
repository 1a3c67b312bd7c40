# Writes the int8 ONNX fixtures of test/onnx/int8.test.ts (test/fixtures/onnx/int8/): small models
# quantized the ways other tools write them, with seeded random weights (no training run):
#   torch-qnnpack-cnn.onnx   PyTorch 1.13 eager static quantization (qnnpack: per-tensor weights,
#                            uint8 activations), torch.onnx.export: QuantizeLinear → Cast(uint8) →
#                            DequantizeLinear around every op, fused Conv+ReLU, MaxPool, Flatten,
#                            Linear, an unfused ReLU (1.13 cannot export linear_relu), Linear
#   torch-float-cnn.onnx     the float model torch-qnnpack-cnn.onnx was quantized from
#   torch-onednn-cnn.onnx    the same with onednn's qconfig: per-channel weights (axis 0)
#   torch-qnnpack-mlp.onnx   a PyTorch MLP (Flatten, Linear, ReLU, Linear, ReLU, Linear)
#   ort-qdq-cnn-u8.onnx      onnxruntime quantize_static's QDQ format, built by hand (its python
#                            package is not installed): uint8 activations, int8 per-channel weights
#                            (DequantizeLinear axis 0), int32 biases, ReLU folded into the uint8
#                            range (zero point 0), a residual Add between DQ/Q, MaxPool, Flatten, Gemm
#   ort-qdq-mlp-s8.onnx      quantize_static with int8 activations (symmetric, zero point 0):
#                            MatMul with per-column weights (axis 1), Add of a bias, Relu kept,
#                            Gemm with uint8 weights around zero point 128, Softmax on the output
#   ort-qdq-u8-weights.onnx  uint8 weights with zero point 0 (values beyond int8 after the shift):
#                            that layer imports in float32 with a recorded note
#   qop-cnn.onnx             QOperator format: QLinearConv → MaxPool (uint8) → QLinearConv →
#                            Flatten → QLinearMatMul → DequantizeLinear
#   qop-integer.onnx         ConvInteger / MatMulInteger with Cast and Mul by the scales
# The QOperator fixtures hold uint8 weights around 128: ONNX Runtime runs QLinear* ops with its
# integer kernels, whose u8s8 form on x86 without VNNI adds pairs of products in saturating int16
# (wrong by several steps); its u8u8 form widens first. ConvInteger takes only uint8 there.
#   dynamic-quant.onnx       quantize_dynamic's DynamicQuantizeLinear + MatMulInteger (refused)
# Run with Debian's torch and onnx:  /usr/bin/python3 scripts/make-int8-onnx.py [OUT_DIR]
import os
import sys

import numpy as np
import onnx
import torch
import torch.ao.quantization as tq
from onnx import TensorProto, helper, numpy_helper
from torch import nn

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'onnx', 'int8')
os.makedirs(OUT, exist_ok=True)
H = 16  # input is [N, 1, 16, 16]


def save(model, name):
    model.producer_name = 'graduate-fixture'
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    print(f'{path}: {os.path.getsize(path)} bytes')


def calib(n=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, H, H, generator=g)


# ---- PyTorch static quantization ---------------------------------------------------------------


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool(self.relu1(self.conv1(self.quant(x))))
        x = self.pool(self.relu2(self.conv2(x)))
        return self.dequant(self.fc2(self.relu3(self.fc1(self.flatten(x)))))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(H * H, 64)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(64, 32)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(32, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.relu1(self.fc1(self.flatten(self.quant(x))))
        return self.dequant(self.fc3(self.relu2(self.fc2(x))))


def export(m, name):
    path = os.path.join(OUT, name)
    torch.onnx.export(
        m,
        torch.rand(1, 1, H, H),
        path,
        opset_version=13,
        input_names=['x'],
        output_names=['y'],
        dynamic_axes={'x': {0: 'n'}, 'y': {0: 'n'}},
    )
    save(onnx.load(path), name)


def torch_int8(net, engine, fuse, name, float_name=None):
    torch.manual_seed(0)
    m = net().eval()
    if float_name:
        export(m, float_name)  # the float model it was quantized from (QuantStub/DeQuantStub are identities)
    torch.backends.quantized.engine = engine
    m.qconfig = tq.get_default_qconfig(engine)
    if fuse:
        m = tq.fuse_modules(m, fuse)
    tq.prepare(m, inplace=True)
    with torch.no_grad():
        m(calib())
    tq.convert(m, inplace=True)
    export(m, name)


torch_int8(Cnn, 'qnnpack', [['conv1', 'relu1'], ['conv2', 'relu2']], 'torch-qnnpack-cnn.onnx', 'torch-float-cnn.onnx')
torch_int8(Cnn, 'onednn', [['conv1', 'relu1'], ['conv2', 'relu2']], 'torch-onednn-cnn.onnx')
torch_int8(Mlp, 'qnnpack', None, 'torch-qnnpack-mlp.onnx')

# ---- hand-built QDQ and QOperator graphs ---------------------------------------------------------

rng = np.random.default_rng(7)


class Builder:
    """Nodes and initializers of one graph, with the helpers quantize_static's patterns need."""

    def __init__(self):
        self.nodes, self.inits, self.k = [], [], 0

    def name(self, base):
        self.k += 1
        return f'{base}_{self.k}'

    def init(self, base, array, dtype=None):
        n = self.name(base)
        a = np.asarray(array)
        self.inits.append(numpy_helper.from_array(a.astype(dtype) if dtype else a, n))
        return n

    def node(self, op, inputs, domain='', **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def q(self, x, scale, zp, dtype):
        return self.node('QuantizeLinear', [x, self.init('s', np.float32(scale)), self.init('z', zp, dtype)])

    def dq(self, x, scale, zp, dtype, axis=None):
        kw = {} if axis is None else {'axis': axis}
        return self.node(
            'DequantizeLinear', [x, self.init('s', np.asarray(scale, np.float32)), self.init('z', zp, dtype)], **kw
        )

    def qdq(self, x, p):
        return self.dq(self.q(x, *p), *p)

    def model(self, x, y, ishape, oshape, opset=13, ms=False):
        graph = helper.make_graph(
            self.nodes,
            'g',
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, ishape)],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, oshape)],
            self.inits,
        )
        ops = [helper.make_opsetid('', opset)] + ([helper.make_opsetid('com.microsoft', 1)] if ms else [])
        m = helper.make_model(graph, opset_imports=ops)
        m.ir_version = 8
        return m


def act_params(a, dtype, relu=False):
    """quantize_static's activation parameters from a calibration range (MinMax)."""
    lo, hi = min(0.0, float(a.min())), max(0.0, float(a.max()))
    if relu:
        lo = 0.0
    if dtype == np.uint8:
        s = (hi - lo) / 255 or 1.0
        return (np.float32(s), np.uint8(round(-lo / s)), np.uint8)
    m = max(abs(lo), abs(hi))  # symmetric int8 activations
    return (np.float32(m / 127 or 1.0), np.int8(0), np.int8)


def weight_q(w, axis, dtype=np.int8, zp128=False):
    """Symmetric per-channel (axis) or per-tensor (axis None) int8 weights; uint8 around 128."""
    red = tuple(i for i in range(w.ndim) if i != axis) if axis is not None else None
    m = np.abs(w).max(axis=red, keepdims=axis is not None)
    s = (m / 127).astype(np.float32)
    q = np.clip(np.round(w / s), -127, 127)
    scale = s.reshape(-1) if axis is not None else np.float32(s)
    if zp128:
        return (q + 128).astype(np.uint8), scale, np.full(np.shape(scale), 128, np.uint8)
    return q.astype(dtype), scale, np.zeros(np.shape(scale), dtype)


def conv_f(x, w, b, pad=1):
    return torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), padding=pad).numpy()


def pool_f(x):
    return torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy()


X = calib().numpy()


def ort_qdq_cnn():
    """quantize_static (QDQ, QUInt8 activations, QInt8 per-channel weights) of a small residual CNN."""
    b = Builder()
    w1, b1 = rng.normal(0, 0.4, (8, 1, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32)
    w2, b2 = rng.normal(0, 0.15, (8, 8, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32)
    w3, b3 = rng.normal(0, 0.1, (10, 8 * 8 * 8)).astype(np.float32), rng.normal(0, 0.1, 10).astype(np.float32)
    # float forward on the calibration data: the ranges quantize_static would calibrate
    a0 = X
    a1 = np.maximum(conv_f(a0, w1, b1), 0)
    a2 = conv_f(a1, w2, b2)
    a3 = a1 + a2
    a4 = pool_f(a3)
    a5 = a4.reshape(len(X), -1) @ w3.T + b3
    p0, p1, p2, p3 = (act_params(a, np.uint8) for a in (a0, a1, a2, a3))
    p1 = act_params(a1, np.uint8, relu=True)
    p5 = act_params(a5, np.uint8)

    def conv(x, xp, w, bias):
        qw, sw, zw = weight_q(w, 0)
        wd = b.dq(b.init('w', qw), sw, zw, np.int8, axis=0)
        bq = np.round(bias / (xp[0] * sw)).astype(np.int32)
        bd = b.dq(b.init('b', bq), (xp[0] * sw).astype(np.float32), np.zeros(len(bias), np.int32), np.int32, axis=0)
        return b.node('Conv', [x, wd, bd], kernel_shape=[3, 3], pads=[1, 1, 1, 1])

    x = b.qdq('x', p0)
    h1 = b.qdq(conv(x, p0, w1, b1), p1)  # the Relu is gone: uint8 with zero point 0 clamps at 0
    h2 = b.qdq(conv(h1, p1, w2, b2), p2)
    h3 = b.qdq(b.node('Add', [h1, h2]), p3)
    h4 = b.qdq(b.node('MaxPool', [h3], kernel_shape=[2, 2], strides=[2, 2]), p3)
    h5 = b.qdq(b.node('Flatten', [h4], axis=1), p3)
    qw, sw, zw = weight_q(w3, 0)
    wd = b.dq(b.init('w', qw), sw, zw, np.int8, axis=0)
    bq = np.round(b3 / (p3[0] * sw)).astype(np.int32)
    bd = b.dq(b.init('b', bq), (p3[0] * sw).astype(np.float32), np.zeros(10, np.int32), np.int32, axis=0)
    y = b.dq(b.q(b.node('Gemm', [h5, wd, bd], transB=1), *p5), *p5)
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'ort-qdq-cnn-u8.onnx')


def ort_qdq_mlp():
    """quantize_static with QInt8 activations: MatMul + Add, Relu, Gemm (uint8 weights at 128), Softmax."""
    b = Builder()
    w1, b1 = rng.normal(0, 0.1, (H * H, 32)).astype(np.float32), rng.normal(0, 0.2, 32).astype(np.float32)
    w2, b2 = rng.normal(0, 0.3, (32, 10)).astype(np.float32), rng.normal(0, 0.1, 10).astype(np.float32)
    a0 = X.reshape(len(X), -1)
    a1 = a0 @ w1
    a2 = a1 + b1
    a3 = np.maximum(a2, 0)
    a4 = a3 @ w2 + b2
    p0, p1, p2, p3, p4 = (act_params(a, np.int8) for a in (a0, a1, a2, a3, a4))
    f = b.node('Flatten', ['x'], axis=1)
    x = b.qdq(f, p0)
    qw, sw, zw = weight_q(w1, 1)
    h1 = b.qdq(b.node('MatMul', [x, b.dq(b.init('w', qw), sw, zw, np.int8, axis=1)]), p1)
    h2 = b.qdq(b.node('Add', [h1, b.init('bias', b1)]), p2)
    h3 = b.qdq(b.node('Relu', [h2]), p3)
    qw, sw, zw = weight_q(w2, None, zp128=True)
    bq = np.round(b2 / (p3[0] * sw)).astype(np.int32)
    bd = b.dq(b.init('b', bq), np.float32(p3[0] * sw), np.int32(0), np.int32)
    h4 = b.qdq(b.node('Gemm', [h3, b.dq(b.init('w', qw), sw, zw, np.uint8), bd]), p4)
    b.node('Softmax', [h4], axis=1)
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'ort-qdq-mlp-s8.onnx')


def ort_qdq_u8_weights():
    """uint8 weights with zero point 0: (q - 0) reaches 255, beyond int8, so that layer stays float."""
    b = Builder()
    w1 = rng.normal(0, 0.1, (H * H, 16)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (16, 10)).astype(np.float32)
    a0 = X.reshape(len(X), -1)
    a1 = np.maximum(a0 @ w1, 0)
    a2 = a1 @ w2
    p0, p1, p2 = act_params(a0, np.uint8), act_params(a1, np.uint8, relu=True), act_params(a2, np.uint8)
    x = b.qdq(b.node('Flatten', ['x'], axis=1), p0)
    lo, hi = w1.min(), w1.max()
    s = np.float32((hi - lo) / 255)
    zp = np.uint8(round(-lo / s))
    wq = np.clip(np.round(w1 / s) + zp, 0, 255).astype(np.uint8)
    h1 = b.qdq(b.node('MatMul', [x, b.dq(b.init('w', wq), s, zp, np.uint8)]), p1)
    qw, sw, zw = weight_q(w2, 1)
    b.qdq(b.node('MatMul', [h1, b.dq(b.init('w', qw), sw, zw, np.int8, axis=1)]), p2)
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'ort-qdq-u8-weights.onnx')


def qop_cnn():
    """QOperator format: QLinearConv, MaxPool and Flatten on uint8, QLinearMatMul."""
    b = Builder()
    w1, b1 = rng.normal(0, 0.4, (8, 1, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32)
    w2, b2 = rng.normal(0, 0.15, (8, 8, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32)
    w3 = rng.normal(0, 0.05, (8 * 4 * 4, 10)).astype(np.float32)
    a0 = X
    a1 = np.maximum(conv_f(a0, w1, b1), 0)
    a2 = np.maximum(conv_f(pool_f(a1), w2, b2, pad=1), 0)
    a3 = pool_f(a2).reshape(len(X), -1) @ w3
    p0 = act_params(a0, np.uint8)
    p1, p2 = act_params(a1, np.uint8, relu=True), act_params(a2, np.uint8, relu=True)
    p3 = act_params(a3, np.uint8)

    def scalar(p):
        return [b.init('s', np.float32(p[0])), b.init('z', p[1], p[2])]

    def qconv(x, xp, w, bias, yp, per_channel):
        qw, sw, zw = weight_q(w, 0 if per_channel else None, zp128=True)
        bq = np.round(bias / (xp[0] * sw)).astype(np.int32)
        ins = [x, *scalar(xp), b.init('w', qw), b.init('ws', sw), b.init('wz', zw), *scalar(yp), b.init('b', bq)]
        return b.node('QLinearConv', ins, kernel_shape=[3, 3], pads=[1, 1, 1, 1])

    x = b.node('QuantizeLinear', ['x', *scalar(p0)])
    h1 = qconv(x, p0, w1, b1, p1, True)
    h1 = b.node('MaxPool', [h1], kernel_shape=[2, 2], strides=[2, 2])
    h2 = qconv(h1, p1, w2, b2, p2, False)
    h2 = b.node('MaxPool', [h2], kernel_shape=[2, 2], strides=[2, 2])
    h3 = b.node('Flatten', [h2], axis=1)
    qw, sw, zw = weight_q(w3, None, zp128=True)
    h4 = b.node('QLinearMatMul', [h3, *scalar(p2), b.init('w', qw), b.init('ws', sw), b.init('wz', zw), *scalar(p3)])
    b.node('DequantizeLinear', [h4, *scalar(p3)])
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'qop-cnn.onnx')


def qop_integer():
    """ConvInteger (uint8 x and w, as ONNX Runtime takes them) and MatMulInteger, rescaled by Mul."""
    b = Builder()
    w1 = rng.normal(0, 0.4, (8, 1, 3, 3)).astype(np.float32)
    w2 = rng.normal(0, 0.02, (8 * H * H, 10)).astype(np.float32)
    a0 = X
    a1 = np.maximum(conv_f(a0, w1, np.zeros(8, np.float32)), 0)
    a2 = a1.reshape(len(X), -1) @ w2
    p0, p1, p2 = act_params(a0, np.uint8), act_params(a1, np.uint8, relu=True), act_params(a2, np.uint8)
    x = b.q('x', *p0)
    qw, sw, _ = weight_q(w1, None, zp128=True)
    acc = b.node('ConvInteger', [x, b.init('w', qw), b.init('xz', p0[1], np.uint8), b.init('wz', np.uint8(128))],
                 kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    f = b.node('Cast', [acc], to=TensorProto.FLOAT)
    h1 = b.node('Relu', [b.node('Mul', [f, b.init('scale', np.float32(p0[0] * sw))])])
    h1 = b.q(b.node('Flatten', [h1], axis=1), *p1)
    qw, sw, zw = weight_q(w2, 1, zp128=True)
    acc = b.node('MatMulInteger', [h1, b.init('w', qw), b.init('az', p1[1], np.uint8), b.init('bz', zw)])
    f = b.node('Cast', [acc], to=TensorProto.FLOAT)
    y = b.node('Mul', [f, b.init('scale', (p1[0] * sw).astype(np.float32))])
    b.dq(b.q(y, *p2), *p2)
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'qop-integer.onnx')


def dynamic_quant():
    """quantize_dynamic's pattern: the activation scale is computed per run (refused by Graduate)."""
    b = Builder()
    f = b.node('Flatten', ['x'], axis=1)
    q = helper.make_node('DynamicQuantizeLinear', [f], ['xq', 'xs', 'xz'], name='dql')
    b.nodes.append(q)
    qw, sw, zw = weight_q(rng.normal(0, 0.1, (H * H, 10)).astype(np.float32), None)
    acc = b.node('MatMulInteger', ['xq', b.init('w', qw), 'xz', b.init('wz', zw)])
    f = b.node('Cast', [acc], to=TensorProto.FLOAT)
    b.node('Mul', [f, b.node('Mul', ['xs', b.init('ws', sw)])])
    b.nodes[-1].output[0] = 'y'
    save(b.model('x', 'y', ['n', 1, H, H], ['n', 10]), 'dynamic-quant.onnx')


ort_qdq_cnn()
ort_qdq_mlp()
ort_qdq_u8_weights()
qop_cnn()
qop_integer()
dynamic_quant()
