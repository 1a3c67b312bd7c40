// serve/named.ts without a server: each datatype's JSON and binary data into the compute types
// (BOOL as true/false or bytes, FP16 half bits, UINT8, INT64 checked against int32), and outputs
// encoded back in their declared datatypes as binary data.
import { describe, expect, it } from 'vitest';
import type { Signature, TensorInfo } from '../../src/runtime/signature.js';
import { namedResponse, parseNamedRequest } from '../../src/serve/named.js';
import type { ModelEntry } from '../../src/serve/repository.js';
import { toHalf } from '../../src/shape/half.js';

const t = (name: string, dtype: TensorInfo['dtype'], shape: number[]): TensorInfo => ({
  name,
  value: name,
  dtype,
  compute: dtype.startsWith('float') || dtype === 'bfloat16' ? 'float32' : 'int32',
  shape,
});
const sig: Signature = {
  inputs: [t('mask', 'bool', [-1, 3]), t('h', 'float16', [-1, 2]), t('px', 'uint8', [-1, 2]), t('n', 'int64', [])],
  outputs: [t('half', 'float16', [-1, 2]), t('flag', 'bool', [-1, 3]), t('count', 'uint64', [])],
  frozen: [],
  stackable: false,
};
const m = { name: 'm', version: '1' } as ModelEntry;
const bytes = (...parts: ArrayBufferView[]) =>
  Buffer.concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));

describe('named tensors on the wire', () => {
  it('JSON: BOOL as true/false, nested as the shape; a scalar as [v]', () => {
    const r = parseNamedRequest(
      m,
      sig,
      {
        inputs: [
          {
            name: 'mask',
            datatype: 'BOOL',
            shape: [2, 3],
            data: [
              [true, false, true],
              [false, false, true],
            ],
          },
          { name: 'h', datatype: 'FP16', shape: [2, 2], data: [0.5, 1, 1.5, 2] },
          { name: 'px', datatype: 'UINT8', shape: [2, 2], data: [0, 255, 7, 8] },
          { name: 'n', datatype: 'INT64', shape: [], data: [42] },
        ],
      },
      8,
    );
    expect(r.batch).toBe(2);
    expect(r.tensors.map((a) => [...a])).toEqual([[1, 0, 1, 0, 0, 1], [0.5, 1, 1.5, 2], [0, 255, 7, 8], [42]]);
    expect(r.tensors[0]).toBeInstanceOf(Int32Array);
    expect(() =>
      parseNamedRequest(
        m,
        sig,
        { inputs: [{ name: 'mask', datatype: 'BOOL', shape: [1, 3], data: [true, 'yes', false] }] },
        8,
      ),
    ).toThrow(/missing inputs 'h' FP16 \[-1, 2\], 'px' UINT8 \[-1, 2\], 'n' INT64 \[\]/);
    const others = [
      { name: 'h', datatype: 'FP16', shape: [1, 2], data: [0, 0] },
      { name: 'px', datatype: 'UINT8', shape: [1, 2], data: [0, 0] },
      { name: 'n', datatype: 'INT32', shape: [], data: [1] },
    ];
    expect(() =>
      parseNamedRequest(
        m,
        sig,
        { inputs: [{ name: 'mask', datatype: 'BOOL', shape: [1, 3], data: [true, 'yes', false] }, ...others] },
        8,
      ),
    ).toThrow(`input 'mask': data[1] = "yes" is not a BOOL (true or false)`);
  });

  it('binary: BOOL bytes, FP16 half bits, UINT8, INT64 in order; an INT64 beyond int32 is named', () => {
    const header = (nBytes: number) => ({
      inputs: [
        { name: 'mask', datatype: 'BOOL', shape: [1, 3], parameters: { binary_data_size: 3 } },
        { name: 'h', datatype: 'FP16', shape: [1, 2], parameters: { binary_data_size: 4 } },
        { name: 'px', datatype: 'UINT8', shape: [1, 2], parameters: { binary_data_size: 2 } },
        { name: 'n', datatype: 'INT64', shape: [], parameters: { binary_data_size: nBytes } },
      ],
    });
    const body = bytes(
      Uint8Array.of(1, 0, 2),
      Uint16Array.of(toHalf(0.25), toHalf(-3)),
      Uint8Array.of(200, 3),
      BigInt64Array.of(-5n),
    );
    const r = parseNamedRequest(m, sig, header(8), 8, body);
    expect(r.tensors.map((a) => [...a])).toEqual([[1, 0, 1], [0.25, -3], [200, 3], [-5]]);
    const far = bytes(body.subarray(0, 9), BigInt64Array.of(2n ** 33n));
    expect(() => parseNamedRequest(m, sig, header(8), 8, far)).toThrow(
      "input 'n': data[0] = 8589934592 does not fit int32 (Graduate computes integers in int32)",
    );
    expect(() => parseNamedRequest(m, sig, header(8), 8, bytes(body, Uint8Array.of(0)))).toThrow(
      "the body holds 18 bytes of tensor data after the header; the inputs' binary_data_size add up to 17",
    );
  });

  it('binary outputs in their declared datatypes: FP16 half bits, BOOL bytes, UINT64', () => {
    const req = { tensors: [], batch: 1, outputs: [0, 1, 2].map((index) => ({ index, binary: true })) };
    const { body, binary } = namedResponse(m, sig, req, [
      Float32Array.of(0.5, -2),
      Int32Array.of(0, 3, 1),
      Int32Array.of(9),
    ]);
    expect((body.outputs as { datatype: string; shape: number[] }[]).map((o) => [o.datatype, o.shape])).toEqual([
      ['FP16', [1, 2]],
      ['BOOL', [1, 3]],
      ['UINT64', []],
    ]);
    expect([...new Uint16Array(binary[0].buffer)]).toEqual([toHalf(0.5), toHalf(-2)]);
    expect([...binary[1]]).toEqual([0, 1, 1]);
    expect([...new BigUint64Array(binary[2].buffer)]).toEqual([9n]);
    // JSON: BOOL as booleans; a NaN asked for as JSON is a 422 naming the output
    const json = namedResponse(m, sig, { ...req, outputs: [{ index: 1, binary: false }] }, [
      Float32Array.of(0, 0),
      Int32Array.of(0, 3, 1),
      Int32Array.of(9),
    ]);
    expect((json.body.outputs as { data: unknown[] }[])[0].data).toEqual([false, true, true]);
    expect(() =>
      namedResponse(m, sig, { ...req, outputs: [{ index: 0, binary: false }] }, [
        Float32Array.of(Number.NaN, 0),
        Int32Array.of(0, 0, 0),
        Int32Array.of(0),
      ]),
    ).toThrow("output 'half'[0] = NaN is not finite");
  });
});
