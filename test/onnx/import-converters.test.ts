// The ONNX importer's converter table (src/onnx/import/converters.ts): the supported-op lists its
// messages name are derived from it and stay what they were; lookups are by domain and own keys.
import { describe, expect, it } from 'vitest';
import { ELEMENTWISE } from '../../src/onnx/import/convert-elementwise.js';
import { LAYERS } from '../../src/onnx/import/convert-layers.js';
import { QUANT } from '../../src/onnx/import/convert-quant.js';
import { SHAPE } from '../../src/onnx/import/convert-shape.js';
import { CONVERTERS, converterFor } from '../../src/onnx/import/converters.js';
import { SUPPORTED_MS_OPS, SUPPORTED_OPS } from '../../src/onnx/import.js';

describe('ONNX import converter table', () => {
  it('derives the supported-op lists of the error messages', () => {
    expect(SUPPORTED_OPS).toEqual([
      'Add',
      'AveragePool',
      'BatchNormalization',
      'Cast',
      'Clip',
      'Concat',
      'Constant',
      'ConstantOfShape',
      'Conv',
      'ConvInteger',
      'DequantizeLinear',
      'Div',
      'Dropout',
      'Erf',
      'Flatten',
      'Gelu',
      'Gemm',
      'GlobalAveragePool',
      'Identity',
      'LayerNormalization',
      'LeakyRelu',
      'LogSoftmax',
      'MatMul',
      'MatMulInteger',
      'MaxPool',
      'Mul',
      'Neg',
      'Pow',
      'QLinearConv',
      'QLinearMatMul',
      'QuantizeLinear',
      'Relu',
      'Reshape',
      'Shape',
      'Sigmoid',
      'Softmax',
      'Sqrt',
      'Squeeze',
      'Sub',
      'Tanh',
      'Transpose',
      'Unsqueeze',
    ]);
    expect(SUPPORTED_MS_OPS).toEqual(['FusedConv', 'FusedGemm', 'Gelu']);
  });

  it('no two family tables define the same op', () => {
    const keys = [ELEMENTWISE, LAYERS, SHAPE, QUANT].flatMap((t) => Object.keys(t));
    expect(keys.length).toBe(new Set(keys).size);
    expect(Object.keys(CONVERTERS).length).toBe(keys.length);
  });

  it('looks ops up by domain, among its own keys only', () => {
    expect(converterFor('', 'Conv')).toBe(CONVERTERS.Conv);
    expect(converterFor('com.microsoft', 'Gelu')).toBe(CONVERTERS['com.microsoft:Gelu']);
    expect(converterFor('com.microsoft', 'Conv')).toBeUndefined();
    expect(converterFor('', 'com.microsoft:Gelu')).toBeUndefined();
    expect(converterFor('', 'constructor')).toBeUndefined();
    expect(converterFor('', 'toString')).toBeUndefined();
    expect(converterFor('', 'HardSwish')).toBeUndefined();
  });
});
