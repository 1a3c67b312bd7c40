// Text models' input in the runtime: strings → the model's int32 token ids [B, maxTokens] through
// text/encode.ts encodeText, the one encoder that made the training data, so predict, serve and
// the browser page tokenise exactly as training did. Also the bound a server puts on one text (its
// UTF-8 bytes, checked before tokenising: BPE reads the whole text even when only maxTokens ids
// are kept). No Node imports: the browser page bundles it.
import { FormatError } from '../errors.js';
import type { InputSpec } from '../graph/ir.js';
import { encodeText, type TextTokenizer } from '../text/encode.js';

/** Bounds on one text; absent fields are not checked. */
export interface TextLimits {
  /** Most UTF-8 bytes in one text. */
  maxBytes?: number;
  /** How to raise maxBytes, as messages name it (e.g. '--max-text-bytes'). */
  raiseWith?: string;
}

/** The tokenizer and token count of a text model's input spec; a FormatError for any other kind. */
export function textPreparation(spec: InputSpec, name: string): { tokenizer: TextTokenizer; maxTokens: number } {
  if (spec.kind !== 'text')
    throw new FormatError(`${name}: text, but the model takes ${spec.kind} input [${spec.shape.join(', ')}]`);
  // graph/validate.ts checked the tokenizer (checkTextTokenizer) and the shape [maxTokens] on read
  return { tokenizer: spec.tokenizer as TextTokenizer, maxTokens: spec.shape[0] };
}

const utf8 = new TextEncoder();
/** UTF-8 bytes of a string (without encoding it when it is surely short enough). */
function utf8Length(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : utf8.encode(text).length;
}

/** Throws a FormatError naming `name` when `text` is not a string or breaks a limit. */
export function checkText(name: string, text: unknown, limits: TextLimits = {}): asserts text is string {
  if (typeof text !== 'string') throw new FormatError(`${name}: expected a string, got ${JSON.stringify(text)}`);
  const max = limits.maxBytes;
  if (max !== undefined && utf8Length(text, max) > max)
    throw new FormatError(
      `${name}: ${utf8.encode(text).length} bytes of UTF-8, over the limit of ${max} bytes per text` +
        (limits.raiseWith ? ` (${limits.raiseWith} raises it)` : ''),
    );
}

/**
 * Texts → the model's input: int32 token ids [texts.length, maxTokens], each text truncated or
 * padded with -1 (padding; the model masks it) as encodeText makes them. `name` names the texts in
 * errors (`name[i]`).
 */
export function textInput(spec: InputSpec, texts: readonly unknown[], name: string, limits?: TextLimits): Int32Array {
  const { tokenizer, maxTokens } = textPreparation(spec, name);
  const out = new Int32Array(texts.length * maxTokens);
  const vocabIndex = tokenizer.kind === 'vocab' ? new Map(tokenizer.vocab.map((w, i) => [w, i])) : undefined;
  texts.forEach((text, i) => {
    checkText(texts.length > 1 ? `${name}[${i}]` : name, text, limits);
    encodeText(text, tokenizer, maxTokens, out.subarray(i * maxTokens, (i + 1) * maxTokens), vocabIndex);
  });
  return out;
}
