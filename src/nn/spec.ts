// The JSON model description used by `--config model.json`, presets and checkpoints. Sizes that
// follow from the input (a linear layer's input features, a conv's input channels) are inferred
// when the model is built; a built module's spec() has them filled in.
import type { Node, ValueDType } from '../graph/ir.js';
import type { Padding } from '../shape/window.js';

export type InitName = 'he' | 'glorot';
export type Pair = number | [number, number];

export type LayerSpec =
  | { type: 'linear'; out: number; in?: number; bias?: boolean; init?: InitName }
  | {
      type: 'conv2d';
      out: number;
      kernel: Pair;
      in?: number;
      stride?: Pair;
      padding?: Padding;
      bias?: boolean;
      init?: InitName;
    }
  | {
      /** 1-D convolution over per-sample [T, C] (weights [K, C / groups, out]). */
      type: 'conv1d';
      out: number;
      kernel: number;
      in?: number;
      stride?: number;
      dilation?: number;
      padding?: 'valid' | 'same' | number | [number, number];
      groups?: number;
      bias?: boolean;
      init?: InitName;
    }
  | {
      /** GRU / LSTM over per-sample [T, C]: [T, D·hidden] with returnSequences, else [D·hidden]. */
      type: 'gru' | 'lstm';
      hidden: number;
      in?: number;
      layers?: number;
      bidirectional?: boolean;
      returnSequences?: boolean;
    }
  | { type: 'temporalpool'; kind: 'mean' | 'max' }
  | {
      /**
       * Token ids [L] (int32, 0 = [PAD]) → embedding [L, dim] + positions → `layers` (each keeps the
       * token axis; attention/encoder layers see the padding mask derived from the ids) → pooled [C]
       * ([L, C] with pool 'none'). nn/transformer.ts TextEncoder.
       */
      type: 'text';
      vocab: number;
      dim: number;
      layers: LayerSpec[];
      /** Rows of the position table (default: the input's L). */
      maxLen?: number;
      positions?: 'learned' | 'sinusoidal' | 'none';
      pool?: 'cls' | 'mean' | 'max' | 'none';
    }
  | {
      /** Transformer encoder layer over [L, dim]: self-attention + GELU feed-forward, residuals, layer norm. */
      type: 'encoder';
      heads: number;
      ffn: number;
      dim?: number;
      dropout?: number;
      attentionDropout?: number;
      norm?: 'pre' | 'post';
      eps?: number;
    }
  | { type: 'attention'; heads: number; dim?: number; dropout?: number }
  | { type: 'layernorm'; channels?: number; eps?: number }
  | { type: 'batchnorm'; channels?: number; eps?: number; momentum?: number }
  | { type: 'relu' | 'gelu' | 'sigmoid' | 'tanh' | 'softmax' | 'flatten' | 'globalavgpool' }
  | { type: 'leakyrelu'; alpha?: number }
  | { type: 'maxpool2d' | 'avgpool2d'; kernel: Pair; stride?: Pair; padding?: Padding }
  | { type: 'dropout'; p: number }
  | {
      type: 'embedding' | 'embeddingbag';
      vocab: number;
      dim: number;
      /** Row-sparse gradients in training (only the rows a batch touches are updated); default false. */
      sparse?: boolean;
    }
  | { type: 'residual'; layers: LayerSpec[]; shortcut?: LayerSpec[]; activation?: 'relu' | 'none' }
  | { type: 'sequential'; layers: LayerSpec[] }
  | ({ type: 'graph' } & GraphSpec);

/**
 * A graph IR's structure as a layer (nn/graph-module.ts): its nodes and values, and each
 * constant's shape and role. Parameters and buffers are the checkpoint's tensors (by constant
 * name); int32 constants (indices) carry their data here.
 */
export interface GraphSpec {
  inputs: string[];
  outputs: string[];
  values: Record<string, { shape: number[]; dtype: ValueDType }>;
  constants: Record<
    string,
    { shape: number[]; role: 'param' | 'buffer' } | { shape: number[]; role: 'fixed'; data: number[] }
  >;
  nodes: Node[];
}

/** A whole model: the per-sample input shape (NHWC images: [H, W, C]) and its layers. */
export interface ModelSpec {
  inputShape: number[];
  /** 'float32' (images, tabular) or 'int32' (token ids for embeddings). */
  inputDType?: 'float32' | 'int32';
  layers: LayerSpec[];
}
