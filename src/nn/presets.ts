// Built-in model presets for `graduate train --preset`. Image presets take NHWC [H, W, C] input;
// 'kws' (keyword spotting) takes a feature sequence [T, C] such as a log-mel spectrogram; on text
// (token ids [L]) 'mlp' and 'logreg' read the bag of words through an embedding bag.
import type { AudioFeatureSpec } from '../audio/features.js';
import type { Preprocessing } from '../data/dataset.js';
import { tokenIds } from '../data/text.js';
import { ValueError } from '../errors.js';
import type { MailPreparation } from '../text/encode.js';
import type { LayerSpec, ModelSpec } from './spec.js';

export type PresetName = 'mlp' | 'logreg' | 'cnn' | 'resnet-small' | 'kws' | 'text-transformer' | 'text-gru';
export const PRESETS: readonly PresetName[] = [
  'mlp',
  'logreg',
  'cnn',
  'resnet-small',
  'kws',
  'text-transformer',
  'text-gru',
];

/** A preset's defaults for train's flags of the same names (--epochs, --weight-decay, --mail, …). */
export interface PresetTraining {
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: 'adam' | 'adamw';
  weightDecay?: number;
  schedule?: 'constant' | 'cosine';
  augment?: string;
  /** text, BPE: how e-mails are cut (--mail; encode.ts MailPreparation; 'headers+body' reads 256 tokens) */
  mail?: MailPreparation;
}

/**
 * Training options a preset trains best with, used where the flag is not given (--epochs etc.).
 * kws: Adam 3e-3, cosine, batch 32 as docs/speech.md's FSDD run, 20 epochs; --augment
 * shift,stretch,warp (speaking rate and vocal tract length: with KWS_AUDIO_SPEC, leave-one-speaker-out
 * on FSDD from a mean of 71.7% to the figure in docs/speech.md; bench/loso.ts measures it).
 */
export const PRESET_TRAINING: Partial<Record<PresetName, PresetTraining>> = {
  kws: { epochs: 20, batch: 32, lr: 3e-3, schedule: 'cosine', augment: 'shift,stretch,warp' },
  // a linear model moves its logits by about lr a step under Adam: at 1e-3 it was still near chance
  // after 6 epochs on SpamAssassin mail, at 0.1 it converges there in 20 (docs/text.md)
  logreg: { epochs: 20, lr: 0.1, schedule: 'cosine' },
  // SpamAssassin through BPE (docs/text.md, issue 18 item 3), test accuracy of 1,209 messages: the
  // former d 128 × 2 layers at Adam 1e-3 reached 97.35% (F1 0.957) in 8 epochs of 56–105 s; d 64 × 1
  // layer at AdamW 3e-3 (decay 0.01) 98.18% on Subject+From+body at 128 tokens (25 s an epoch,
  // 1 thread), 98.59% (F1 0.978) reading the 'headers+body' preparation at 256 tokens (72–143 s an
  // epoch, 1 thread on 2 loaded cores). The word-count logreg there: 99.09%.
  'text-transformer': {
    epochs: 8,
    batch: 32,
    lr: 3e-3,
    optimizer: 'adamw',
    weightDecay: 0.01,
    schedule: 'cosine',
    mail: 'headers+body',
  },
  'text-gru': { epochs: 4, batch: 32, lr: 3e-3, schedule: 'cosine' },
};

/**
 * The kws preset's audio front end over defaultAudioSpec(), recorded in the model so that inference
 * computes the same: log-mel relative to each clip's peak, floored 40 dB below it (docs/audio.md:
 * FSDD's speakers differ in level, noise floor and trimming, cues a model otherwise learns).
 */
export const KWS_AUDIO_SPEC: Partial<AudioFeatureSpec> = { topDb: 40, ref: 'max' };

/** 3×3 'same' conv (no bias: BatchNorm follows), BatchNorm, ReLU. */
function convBnRelu(out: number): LayerSpec[] {
  return [{ type: 'conv2d', out, kernel: 3, padding: 'same', bias: false }, { type: 'batchnorm' }, { type: 'relu' }];
}

function block(out: number, stride: number, inC: number): LayerSpec {
  const layers: LayerSpec[] = [
    { type: 'conv2d', out, kernel: 3, stride, padding: 'same', bias: false },
    { type: 'batchnorm' },
    { type: 'relu' },
    { type: 'conv2d', out, kernel: 3, padding: 'same', bias: false },
    { type: 'batchnorm' },
  ];
  const shortcut: LayerSpec[] | undefined =
    stride !== 1 || inC !== out
      ? [{ type: 'conv2d', out, kernel: 1, stride, bias: false }, { type: 'batchnorm' }]
      : undefined;
  return { type: 'residual', layers, shortcut };
}

/**
 * The first layer of 'mlp' and 'logreg': a linear map of the input to `out` features. Token ids are
 * no quantities to weigh: on text it is an embedding bag, whose mean of the words' rows is a linear
 * map of the word counts divided by the text's length, bias included (a constant added to every row
 * adds it to the mean).
 */
function linearIn(inputShape: readonly number[], out: number, input: Preprocessing | undefined): LayerSpec[] {
  if (input?.kind !== 'text')
    return [...(inputShape.length > 1 ? [{ type: 'flatten' } as const] : []), { type: 'linear', out }];
  if (!input.tokenizer) throw new ValueError('text input needs its tokenizer to size the embedding bag');
  return [{ type: 'embeddingbag', vocab: tokenIds(input.tokenizer), dim: out }];
}

/**
 * The preset's model spec for inputs of per-sample shape `inputShape` and `classes` outputs; `input`
 * (the data's preprocessing) tells text (token ids) from numbers of the same shape.
 */
export function presetSpec(
  name: string,
  inputShape: readonly number[],
  classes: number,
  input?: Preprocessing,
): ModelSpec {
  const image = inputShape.length === 3;
  switch (name) {
    case 'logreg':
      // multinomial logistic regression: the baseline a network has to beat (docs/text.md)
      return { inputShape: [...inputShape], layers: linearIn(inputShape, classes, input) };
    case 'mlp':
      return {
        inputShape: [...inputShape],
        layers: [
          ...linearIn(inputShape, 256, input),
          { type: 'relu' },
          { type: 'linear', out: 128 },
          { type: 'relu' },
          { type: 'linear', out: classes },
        ],
      };
    case 'cnn':
      if (!image)
        throw new ValueError(
          `preset 'cnn' needs image data [H, W, C], got per-sample shape [${inputShape.join(', ')}]`,
        );
      return {
        inputShape: [...inputShape],
        // 28 → 14 → 7 → 3: one conv at full resolution, two at 14×14 (most of the 14.8 MMAC), one
        // at 7×7. 10 epochs (Adam 1e-3, cosine, label smoothing 0.1) reach 93% on Fashion-MNIST;
        // the two-conv version of this net stopped at 92.1% and a single 14×14 conv at 92.8%.
        layers: [
          ...convBnRelu(32),
          { type: 'maxpool2d', kernel: 2 },
          ...convBnRelu(64),
          ...convBnRelu(64),
          { type: 'maxpool2d', kernel: 2 },
          ...convBnRelu(128),
          { type: 'maxpool2d', kernel: 2 },
          { type: 'flatten' },
          { type: 'linear', out: 128 },
          { type: 'relu' },
          { type: 'dropout', p: 0.3 },
          { type: 'linear', out: classes },
        ],
      };
    case 'resnet-small':
      if (!image)
        throw new ValueError(
          `preset 'resnet-small' needs image data [H, W, C], got per-sample shape [${inputShape.join(', ')}]`,
        );
      return {
        inputShape: [...inputShape],
        layers: [
          { type: 'conv2d', out: 16, kernel: 3, padding: 'same', bias: false },
          { type: 'batchnorm' },
          { type: 'relu' },
          block(16, 1, 16),
          block(32, 2, 16),
          block(64, 2, 32),
          { type: 'globalavgpool' },
          { type: 'linear', out: classes },
        ],
      };
    case 'kws':
      if (inputShape.length !== 2)
        throw new ValueError(
          `preset 'kws' needs a feature sequence [T, C] (audio: [frames, mels]), got per-sample shape [${inputShape.join(', ')}]`,
        );
      return {
        inputShape: [...inputShape],
        // the stride-2 conv halves the GRU's steps (98 → 49 frames of FSDD's log-mel)
        layers: [
          { type: 'conv1d', out: 64, kernel: 3, stride: 2, padding: 'same', bias: false },
          { type: 'batchnorm' },
          { type: 'relu' },
          { type: 'gru', hidden: 64 },
          { type: 'linear', out: classes },
        ],
      };
    case 'text-transformer':
    case 'text-gru': {
      if (inputShape.length !== 1 || input?.kind !== 'text' || !input.tokenizer)
        throw new ValueError(
          `preset '${name}' needs text input (token ids [L] and their tokenizer), got per-sample shape [${inputShape.join(', ')}]`,
        );
      return textPresetSpec(name, inputShape[0], classes, tokenIds(input.tokenizer));
    }
    default:
      throw new ValueError(`unknown preset '${name}': expected one of ${PRESETS.join(', ')}`);
  }
}

/** The width and depth of the text-transformer preset's encoder. */
export interface TextTransformerSize {
  dim: number;
  layers: number;
  heads: number;
  ffn: number;
}
/** The preset's size (issue 18 item 3, docs/text.md). */
export const TEXT_TRANSFORMER_SIZE: TextTransformerSize = { dim: 64, layers: 1, heads: 4, ffn: 256 };
/** The preset's size before issue 18 item 3: what graduation's tests and figures were made on. */
export const TEXT_TRANSFORMER_SIZE_V1: TextTransformerSize = { dim: 128, layers: 2, heads: 4, ffn: 256 };

/**
 * The text presets over token ids [L] (0 = [PAD]) from a vocabulary of `vocab` ids: a text block
 * (nn/transformer.ts) pooled over the real tokens, then a linear map to `classes`.
 * 'text-transformer': embedding 64 + learned positions, 1 pre-norm encoder layer (4 heads, FFN
 * 256, dropout 0.1), final layer norm, masked mean. It was d 128 × 2 layers until issue 18 item 3:
 * 97.35% on SpamAssassin against 98.18% for this size on the same input, at a third of the speed
 * (docs/text.md); `size` builds others (tests of graduation keep two layers). 'text-gru':
 * embedding 128 → GRU 128 over every step → masked mean (one direction: a state at a real token
 * never reads the padding after it, so the answer does not depend on how far a text is padded).
 */
export function textPresetSpec(
  name: 'text-transformer' | 'text-gru',
  L: number,
  classes: number,
  vocab: number,
  size: TextTransformerSize = TEXT_TRANSFORMER_SIZE,
): ModelSpec {
  const encoder: LayerSpec = { type: 'encoder', heads: size.heads, ffn: size.ffn, dropout: 0.1 };
  const text: LayerSpec =
    name === 'text-transformer'
      ? {
          type: 'text',
          vocab,
          dim: size.dim,
          positions: 'learned',
          pool: 'mean',
          layers: [{ type: 'dropout', p: 0.1 }, ...Array<LayerSpec>(size.layers).fill(encoder), { type: 'layernorm' }],
        }
      : {
          type: 'text',
          vocab,
          dim: 128,
          positions: 'none',
          pool: 'mean',
          layers: [{ type: 'gru', hidden: 128, returnSequences: true }],
        };
  return { inputShape: [L], inputDType: 'int32', layers: [text, { type: 'linear', out: classes }] };
}
