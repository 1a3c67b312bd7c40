// ONNX in and out: exportOnnx / importOnnx. Node-only (import reads external weight files): not
// part of the lean runtime. Turning a command's source path into a graph is cli/source.ts's.

export { exportOnnx, INPUT_NAME, type OnnxInputMeta, OUTPUT_NAME } from './export.js';
export { type ImportOptions, importOnnx, SUPPORTED_MS_OPS, SUPPORTED_OPS } from './import.js';
