// The ONNX protobuf schema (onnx-proto: protobufjs code generated from the official onnx.proto)
// and the few helpers export and import share: data type codes, 64-bit integers as numbers.
// Not for: graph translation (export.ts, import.ts).
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

/** TensorProto.DataType codes used here. */
export const DT = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

/** The opset export writes and the range import reads (default domain). */
export const EXPORT_OPSET = 17;
export const IMPORT_OPSETS = [9, 22] as const;
/** Opsets the general import path reads (the legacy broadcast attributes of opsets < 7 included). */
export const IMPORT_GENERAL_OPSETS = [1, 22] as const;

/** protobufjs gives int64 fields as number or Long; both become numbers (exact below 2^53). */
export function num(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
