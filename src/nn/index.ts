// Public surface of the nn package (re-exported by src/index.ts as `nn`).

export { buildLayer, buildModel } from './build.js';
export * from './layers.js';
export { bceWithLogits, crossEntropy, mse } from './losses.js';
export { Module } from './module.js';
export { PRESETS, type PresetName, presetSpec } from './presets.js';
export type { InitName, LayerSpec, ModelSpec } from './spec.js';
export {
  attend,
  type EncoderLayerOptions,
  LayerNorm,
  MASK_BIAS,
  MaskedLayer,
  MultiHeadSelfAttention,
  paddingMask,
  sinusoidalPositions,
  TextEncoder,
  type TextEncoderOptions,
  type TextPool,
  type TextPositions,
  TransformerEncoderLayer,
} from './transformer.js';
