// Typed errors. Every message names the thing that is wrong (op, tensor, file, field, shape,
// value) so that bad input is caught at the boundary with a clear message.

/** Base class of Graduate's own errors. */
export class GraduateError extends Error {
  override name = 'GraduateError';
}

/** Shapes that do not fit an op (names the op and both shapes). */
export class ShapeError extends GraduateError {
  override name = 'ShapeError';
}

/** A value outside what an op or option accepts. */
export class ValueError extends GraduateError {
  override name = 'ValueError';
}

/** A file that is not what it claims to be (names the file and what was expected). */
export class FormatError extends GraduateError {
  override name = 'FormatError';
}

/** Use of a tensor after dispose(). */
export class DisposedError extends GraduateError {
  override name = 'DisposedError';
}

/** Formats a shape for messages: [2, 3]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A file or folder that cannot be read or written (names the path and the system's reason). */
export class FileError extends GraduateError {
  override name = 'FileError';
}

/** A kernel the engine's wasm module lacks (a training kernel called on an inference engine). */
export class KernelError extends GraduateError {
  override name = 'KernelError';
}
