// Scalar activations in float64, as the IR defines them: GELU is the tanh approximation the
// kernels compute (src/kernels/as), and its exact erf form for importers. One copy for every
// TypeScript consumer: constant folding (compile/passes/fold-constants.ts), ONNX import (matching
// GELU subgraphs, the Gelu and Erf ops) and ONNX export (GELU's constants). No imports: any layer
// may use it. Not for: tensors (the kernels) or the vectorized eager ops.

/** √(2/π), GELU's tanh-approximation factor. */
export const GELU_K = Math.sqrt(2 / Math.PI);
/** The cubic term's coefficient in GELU's tanh approximation. */
export const GELU_CUBIC = 0.044715;

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — what `gelu` nodes compute. */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_K * (x + GELU_CUBIC * x * x * x)));
}

/** erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  return (
    s *
    (1 -
      ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
        t *
        Math.exp(-a * a))
  );
}

/** GELU, exact form: 0.5·x·(1 + erf(x/√2)) (ONNX Gelu's default; within 5e-4 of geluTanh). */
export function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}
