// The Open Inference Protocol for recommendation models (artifacts of `graduate compile` on an mf
// or two-tower checkpoint): a request names users by their external ids (BYTES `user_id` [N]) and
// may give each a history (BYTES `history` [N, M], '' padding: the items a cold user liked, left
// out of the answer); parameters.k asks for fewer than the model's K. The answer: `item_ids` and
// `titles` (BYTES [N, k]) and `scores` (FP32 [N, k]), with each row's basis (its own row, its
// history, or the fallback) in parameters. Requests batch like any other: the ids become the
// graph's int32 tensors here (runtime/recommend.ts prepareRecommend), the batcher stacks them.
// Not for: raw index tensors (the model is then served as any 'tensor' model would be: named.ts).
import { fmtShape } from '../errors.js';
import type { Graph } from '../graph/ir.js';
import { prepareRecommend, type RecommendRequest, type RecommendResult, recommendMeta } from '../runtime/recommend.js';
import { bad } from './protocol.js';
import type { ModelEntry } from './repository.js';

export const USER_INPUT = 'user_id';
export const HISTORY_INPUT = 'history';

/** A parsed request: the graph's inputs, and how to turn its outputs into results. */
export interface RecommendInput {
  batch: number;
  tensors: Int32Array[];
  results: (items: ArrayLike<number>, scores: ArrayLike<number>) => RecommendResult[];
  /** Outputs the client asked for (undefined: all). */
  outputs?: string[];
  id?: string;
}

/** The strings of a BYTES tensor of `shape` (JSON data, flat or nested). */
function strings(t: Record<string, unknown>, what: string): { shape: number[]; data: string[] } {
  if (t.datatype !== 'BYTES') throw bad(`${what}: datatype ${JSON.stringify(t.datatype)}; ids are BYTES (strings)`);
  if ((t.parameters as { binary_data_size?: unknown } | undefined)?.binary_data_size !== undefined)
    throw bad(`${what}: binary tensor data is not taken for ids; send them as JSON strings`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw bad(`${what}: shape ${JSON.stringify(shape)} is not a list of sizes`);
  const data = Array.isArray(t.data) ? t.data.flat(2) : undefined;
  const n = shape.reduce((p: number, d: number) => p * d, 1);
  if (!data || data.length !== n) throw bad(`${what}: "data" must hold ${n} strings for shape ${fmtShape(shape)}`);
  const i = data.findIndex((v) => typeof v !== 'string');
  if (i >= 0) throw bad(`${what}: data[${i}] is ${JSON.stringify(data[i])}, not a string`);
  return { shape: shape as number[], data: data as string[] };
}

/**
 * A recommendation model's infer request → the graph's tensors. `user_id` [N] (or [N, 1]) and/or
 * `history` [N, M] ('' pads a shorter row); at least one. Unknown users are cold users, unknown
 * item ids in a history are 400s naming them.
 */
export function parseRecommendRequest(m: ModelEntry, graph: Graph, body: unknown, maxSamples: number): RecommendInput {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { inputs?: unknown }).inputs))
    throw bad('request body: expected a JSON object with an "inputs" array');
  const req = body as {
    id?: unknown;
    inputs: unknown[];
    outputs?: unknown;
    parameters?: { k?: unknown };
  };
  let users: string[] | undefined;
  let histories: string[][] | undefined;
  for (const [i, raw] of req.inputs.entries()) {
    const t = raw as Record<string, unknown> | null;
    const name = t?.name;
    if (typeof name !== 'string' || !t) throw bad(`inputs[${i}]: expected an object with a "name"`);
    const what = `input '${name}'`;
    if (name === USER_INPUT) {
      if (users) throw bad(`${what} appears twice`);
      const { shape, data } = strings(t, what);
      if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1)))
        throw bad(`${what}: shape ${fmtShape(shape)} is not [users] or [users, 1]`);
      users = data;
    } else if (name === HISTORY_INPUT) {
      if (histories) throw bad(`${what} appears twice`);
      const { shape, data } = strings(t, what);
      if (shape.length !== 2) throw bad(`${what}: shape ${fmtShape(shape)} is not [users, items]`);
      histories = Array.from({ length: shape[0] }, (_, r) =>
        data.slice(r * shape[1], (r + 1) * shape[1]).filter((s) => s !== ''),
      );
    } else
      throw bad(
        `unknown input '${name}': model '${m.name}' takes '${USER_INPUT}' BYTES [users] and/or '${HISTORY_INPUT}' BYTES [users, items]`,
      );
  }
  if (!users && !histories)
    throw bad(
      `missing input: model '${m.name}' takes '${USER_INPUT}' BYTES [users] and/or '${HISTORY_INPUT}' BYTES [users, items]`,
    );
  const batch = users?.length ?? (histories as string[][]).length;
  if (histories && histories.length !== batch)
    throw bad(`input '${HISTORY_INPUT}' has ${histories.length} rows for ${batch} users`);
  if (batch < 1) throw bad('a request needs at least one user');
  if (batch > maxSamples) throw bad(`${batch} users are over this server's limit of ${maxSamples} per request`);
  const k = req.parameters?.k;
  if (k !== undefined && !Number.isInteger(k)) throw bad(`parameters.k: expected an integer, got ${JSON.stringify(k)}`);
  const requests: RecommendRequest[] = Array.from({ length: batch }, (_, b) => ({
    ...(users && { user: users[b] }),
    ...(histories && { history: histories[b] }),
    ...(k !== undefined && { k: k as number }),
  }));
  let run: ReturnType<typeof prepareRecommend>;
  try {
    run = prepareRecommend(graph, requests);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const outputs = parseOutputs(req.outputs);
  return {
    batch,
    tensors: run.inputs,
    results: run.results,
    ...(outputs && { outputs }),
    ...(typeof req.id === 'string' && { id: req.id }),
  };
}

const OUTPUTS = ['item_ids', 'titles', 'scores'];

function parseOutputs(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw bad('"outputs": expected an array of {"name": …}');
  return raw.map((o, i) => {
    const name = (o as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !OUTPUTS.includes(name))
      throw bad(`outputs[${i}]: unknown output ${JSON.stringify(name)} (this model has ${OUTPUTS.join(', ')})`);
    return name;
  });
}

/** The KServe v2 response of a recommendation request. */
export function recommendResponse(m: ModelEntry, request: RecommendInput, results: RecommendResult[]) {
  const k = Math.max(...results.map((r) => r.items.length));
  const shape = [results.length, k];
  const want = (name: string) => !request.outputs || request.outputs.includes(name);
  const withTitles = results.some((r) => r.items.some((i) => i.title !== undefined));
  const outputs = [
    want('item_ids') && {
      name: 'item_ids',
      datatype: 'BYTES',
      shape,
      data: results.flatMap((r) => r.items.map((i) => i.id)),
    },
    want('titles') &&
      withTitles && {
        name: 'titles',
        datatype: 'BYTES',
        shape,
        data: results.flatMap((r) => r.items.map((i) => i.title ?? '')),
      },
    want('scores') && {
      name: 'scores',
      datatype: 'FP32',
      shape,
      data: results.flatMap((r) => r.items.map((i) => i.score)),
    },
  ].filter(Boolean);
  const ignored = results.map((r) => r.ignored);
  return {
    model_name: m.name,
    model_version: m.version,
    ...(request.id !== undefined && { id: request.id }),
    outputs,
    parameters: {
      basis: results.map((r) => r.basis),
      ...(results.some((r) => r.note) && { fallback: results.find((r) => r.note)?.note }),
      ...(ignored.some((x) => x.length) && { ignored_history: ignored }),
    },
  };
}

/** What a recommendation model's metadata says it takes and gives. */
export function recommendMetadata(m: ModelEntry, graph: Graph, versions: string[]) {
  const meta = recommendMeta(graph, m.path);
  return {
    name: m.name,
    versions,
    platform: 'graduate',
    inputs: [
      { name: USER_INPUT, datatype: 'BYTES', shape: [-1] },
      { name: HISTORY_INPUT, datatype: 'BYTES', shape: [-1, -1] },
    ],
    outputs: [
      { name: 'item_ids', datatype: 'BYTES', shape: [-1, meta.k] },
      ...(meta.titles ? [{ name: 'titles', datatype: 'BYTES', shape: [-1, meta.k] }] : []),
      { name: 'scores', datatype: 'FP32', shape: [-1, meta.k] },
    ],
    parameters: {
      input_kind: 'recommend',
      recommend_preset: meta.preset,
      recommend_k: meta.k,
      recommend_users: meta.userIds.length,
      recommend_items: meta.itemIds.length,
      recommend_inputs: [
        `'${USER_INPUT}' BYTES [users]: external user ids; an unknown id is a cold user, recommended from its history`,
        `'${HISTORY_INPUT}' BYTES [users, items]: item ids each user liked ('' pads a shorter row), left out of the answer; optional for known users`,
        "parameters.k: fewer items than the model's K",
      ],
      recommend_fallback: meta.fallback,
    },
  };
}
