// Reading ONNX tensors (initializers, Constant values) as constants: every data type the importer
// takes, from typed fields or raw bytes, and external data files beside the model (each read once,
// confined to the model's folder). Not for: computing with constants (fold.ts).
import { isAbsolute, relative, resolve } from 'node:path';
import { FileError } from '../../errors.js';
import { fromHalf } from '../../graph/ir.js';
import { readFileChecked } from '../../io/read.js';
import { DT, num, onnx, type TensorProto } from '../proto.js';
import { type Const, prod } from './fold.js';

/** The tensors of one model; problems are FormatErrors through `bad`, named by `what`. */
export class TensorReader {
  private readonly externalFiles = new Map<string, Uint8Array>();

  constructor(
    private readonly source: string,
    private readonly baseDir: string,
    private readonly bad: (msg: string) => never,
  ) {}

  read(t: TensorProto, what = `initializer '${t.name}'`): Const {
    const { bad } = this;
    const dims = (t.dims ?? []).map(num);
    if (dims.some((d) => !Number.isInteger(d) || d < 0 || d > 2 ** 31))
      bad(`${what}: invalid dims [${dims.join(', ')}]`);
    const n = prod(dims);
    if (n > 2 ** 28) bad(`${what}: ${n} elements is too large`);
    const dt = t.dataType ?? 0;
    let raw = t.rawData?.length ? t.rawData : undefined;
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = this.external(t, what);
    const size: Record<number, number> = {
      [DT.FLOAT]: 4,
      [DT.UINT8]: 1,
      [DT.INT8]: 1,
      [DT.INT16]: 2,
      [DT.INT32]: 4,
      [DT.INT64]: 8,
      [DT.FLOAT16]: 2,
      [DT.DOUBLE]: 8,
      [DT.BOOL]: 1,
      [DT.UINT16]: 2,
      [DT.UINT32]: 4,
      [DT.UINT64]: 8,
      [DT.BFLOAT16]: 2,
    };
    const per = size[dt];
    if (!per) bad(`${what}: data type ${dt} is not supported (float, float16, bfloat16, double, bool and integers)`);
    const isInt = dt !== DT.FLOAT && dt !== DT.FLOAT16 && dt !== DT.DOUBLE && dt !== DT.BFLOAT16;
    const typed: ArrayLike<number | { toNumber(): number }> =
      dt === DT.FLOAT
        ? (t.floatData ?? [])
        : dt === DT.DOUBLE
          ? (t.doubleData ?? [])
          : dt === DT.INT64
            ? (t.int64Data ?? [])
            : dt === DT.UINT32 || dt === DT.UINT64
              ? (t.uint64Data ?? [])
              : (t.int32Data ?? []);
    if (raw ? raw.length !== n * per : typed.length !== n)
      bad(`${what}: ${raw ? `${raw.length} bytes` : `${typed.length} typed values`} of data for ${n} elements`);
    const out = isInt ? new Float64Array(n) : new Float32Array(n);
    if (raw) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < n; i++) {
        const o = i * per;
        out[i] =
          dt === DT.FLOAT
            ? view.getFloat32(o, true)
            : dt === DT.DOUBLE
              ? view.getFloat64(o, true)
              : dt === DT.FLOAT16
                ? fromHalf(view.getUint16(o, true))
                : dt === DT.BFLOAT16
                  ? new Float32Array(new Uint32Array([view.getUint16(o, true) << 16]).buffer)[0]
                  : dt === DT.INT8
                    ? view.getInt8(o)
                    : dt === DT.UINT8 || dt === DT.BOOL
                      ? view.getUint8(o)
                      : dt === DT.UINT16
                        ? view.getUint16(o, true)
                        : dt === DT.UINT32
                          ? view.getUint32(o, true)
                          : dt === DT.UINT64
                            ? Number(view.getBigUint64(o, true))
                            : dt === DT.INT16
                              ? view.getInt16(o, true)
                              : dt === DT.INT32
                                ? view.getInt32(o, true)
                                : Number(view.getBigInt64(o, true));
      }
      return { kind: 'const', dims, data: out, int: isInt, elem: dt };
    }
    for (let i = 0; i < n; i++) {
      const v = num(typed[i] as number);
      out[i] =
        dt === DT.FLOAT16
          ? fromHalf(v)
          : dt === DT.BFLOAT16
            ? new Float32Array(new Uint32Array([(v & 0xffff) << 16]).buffer)[0]
            : v;
    }
    return { kind: 'const', dims, data: out, int: isInt, elem: dt };
  }

  /** Bytes of an external tensor (location relative to the model's folder, offset, length). */
  private external(t: TensorProto, what: string): Uint8Array {
    const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const loc = kv.get('location');
    if (!loc) this.bad(`${what}: external data without a location`);
    const file = resolve(this.baseDir, loc as string);
    const rel = relative(this.baseDir, file);
    if (isAbsolute(loc as string) || rel.startsWith('..'))
      this.bad(`${what}: external data location '${loc}' must lie inside the model's folder`);
    const buf = this.externalFile(file, what);
    const offset = Number(kv.get('offset') ?? 0);
    const length = kv.has('length') ? Number(kv.get('length')) : buf.length - offset;
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > buf.length
    )
      this.bad(`${what}: external data range ${offset}+${length} lies outside ${file} (${buf.length} bytes)`);
    return buf.subarray(offset, offset + length);
  }

  /** An external data file, read once however many tensors it holds; errors name the model too. */
  private externalFile(file: string, what: string): Uint8Array {
    let buf = this.externalFiles.get(file);
    if (!buf) {
      try {
        buf = readFileChecked(file, 'external data');
      } catch (e) {
        if (e instanceof FileError) throw new FileError(`${this.source}: ${what}: ${e.message}`);
        throw e;
      }
      this.externalFiles.set(file, buf);
    }
    return buf;
  }
}
