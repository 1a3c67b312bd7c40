// The model repository: which artifacts a server serves, under which names and versions, and what
// their tensors look like (for metadata and request validation). Reads each artifact once on the
// main thread to check it and learn its signature; the runtimes that compute live in workers.
// Not for: running models (workers.ts) or HTTP (server.ts).
//
// Layouts: a single artifact FILE (model = file name without extension, version 1), or a folder
// holding DIR/<model>/<version>/model.grad (KServe/Triton) and/or DIR/<model>.grad (version 1).
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { FormatError } from '../errors.js';
import { readArtifact } from '../graph/artifact.js';
import { type Graph, type InputSpec, tokenIdLimit } from '../graph/ir.js';
import { readFileChecked } from '../io/read.js';
import { tensorShape } from '../runtime/image-input.js';
import { recommendMeta } from '../runtime/recommend.js';
import { graphSignature, type Signature } from '../runtime/signature.js';

/** Open Inference Protocol tensor datatypes a model's input can take. */
export type Datatype = 'FP32' | 'INT32';

export interface TensorSignature {
  name: string;
  datatype: Datatype;
  /** Per-sample shape (the protocol shape is [-1, ...shape]). */
  shape: readonly number[];
  /** INT32 token ids lie in [-1, tokenIds) (graph/ir.ts tokenIdLimit). */
  tokenIds?: number;
}

/** One servable model version. */
export interface ModelEntry {
  name: string;
  version: string;
  /** Artifact file. */
  path: string;
  input: TensorSignature;
  output: TensorSignature;
  spec: InputSpec;
  classNames: readonly string[];
  /**
   * A 'tensor' model (a general ONNX graph): its named inputs and outputs, which requests name
   * (serve/named.ts). `input` and `output` then describe its first ones and the protocol ignores them.
   */
  named?: Signature;
  /**
   * A recommendation model (meta.recommend: `graduate compile` of an mf or two-tower checkpoint):
   * its graph, whose catalogue (id maps, titles, users' items) turns ids into tensors (serve/recommend.ts).
   */
  recommend?: Graph;
}

/** Key of a model version in the batcher and the workers. */
export const modelKey = (m: Pick<ModelEntry, 'name' | 'version'>): string => `${m.name}/${m.version}`;

/** Model names and versions may appear in URLs: keep them to a safe alphabet. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Reads an artifact's signature. */
export function readEntry(name: string, version: string, path: string): ModelEntry {
  const g = readArtifact(new Uint8Array(readFileChecked(path, 'artifact')), path);
  if (g.meta.input.kind === 'tensor') {
    const named = graphSignature(g, path);
    const first = (t: Signature['inputs'][number] | undefined) => ({
      name: t?.name ?? '',
      datatype: t?.compute === 'int32' ? ('INT32' as const) : ('FP32' as const),
      shape: t ? t.shape.slice(1) : [],
    });
    const [input, output] = [first(named.inputs[0]), first(named.outputs[0])];
    const recommend = g.meta.recommend !== undefined ? g : undefined;
    if (recommend) recommendMeta(recommend, path); // a FormatError naming the field, at load
    return {
      name,
      version,
      path,
      input,
      output,
      spec: g.meta.input,
      classNames: g.meta.classNames,
      named,
      ...(recommend && { recommend }),
    };
  }
  const x = g.values[g.inputs[0]];
  const y = g.values[g.outputs[0]];
  if (g.inputs.length !== 1 || g.outputs.length !== 1)
    throw new FormatError(`${path}: serving needs a graph with one input and one output`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new FormatError(`${path}: input '${g.inputs[0]}' has dtype ${x.dtype}; serving takes float32 or int32`);
  return {
    name,
    version,
    path,
    input: {
      name: g.inputs[0],
      datatype: x.dtype === 'int32' ? 'INT32' : 'FP32',
      // the tensor clients send: the graph's NHWC input, or NCHW where the artifact declares it
      shape: x.dtype === 'float32' && g.meta.input.kind === 'image' ? tensorShape(g.meta.input) : x.shape.slice(1),
      tokenIds: tokenIdLimit(g),
    },
    output: { name: 'logits', datatype: 'FP32', shape: y.shape.slice(1) },
    spec: g.meta.input,
    classNames: g.meta.classNames,
  };
}

/** Finds the artifacts under `path` (a file or a repository folder); throws a FormatError naming what is wrong. */
export function scanRepository(path: string): ModelEntry[] {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new FormatError(`${path}: no such artifact file or model repository folder`);
  }
  if (st.isFile()) return [readEntry(safeName(basename(path, extname(path)), path), '1', path)];
  const entries: ModelEntry[] = [];
  for (const item of readdirSync(path).sort()) {
    const p = join(path, item);
    const s = statSync(p);
    if (s.isFile() && extname(item) === '.grad') entries.push(readEntry(safeName(basename(item, '.grad'), p), '1', p));
    if (!s.isDirectory()) continue;
    for (const version of readdirSync(p).sort(byVersion)) {
      const file = join(p, version, 'model.grad');
      if (!statSync(join(p, version)).isDirectory() || !exists(file)) continue;
      entries.push(readEntry(safeName(item, p), safeName(version, join(p, version)), file));
    }
  }
  if (entries.length === 0)
    throw new FormatError(`${path}: no models found (expected <model>/<version>/model.grad or <model>.grad)`);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(modelKey(e))) throw new FormatError(`${path}: model '${e.name}' version ${e.version} appears twice`);
    seen.add(modelKey(e));
  }
  return entries;
}

/** Looks models up by name and optional version (default: the highest version). */
export class Repository {
  constructor(readonly models: readonly ModelEntry[]) {}

  /** Model names, each with its versions (ascending). */
  names(): { name: string; versions: string[] }[] {
    const by = new Map<string, string[]>();
    for (const m of this.models) by.set(m.name, [...(by.get(m.name) ?? []), m.version]);
    return [...by].map(([name, versions]) => ({ name, versions: versions.sort(byVersion) }));
  }

  find(name: string, version?: string): ModelEntry | undefined {
    const all = this.models.filter((m) => m.name === name);
    if (version !== undefined) return all.find((m) => m.version === version);
    return all.sort((a, b) => byVersion(a.version, b.version)).at(-1);
  }
}

function byVersion(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a.localeCompare(b);
}

function safeName(name: string, where: string): string {
  if (!NAME.test(name))
    throw new FormatError(`${where}: model name or version '${name}' must match ${NAME.source} (it appears in URLs)`);
  return name;
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
