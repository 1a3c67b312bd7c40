// `graduate recommend model.grad --user ID [--k 10] [--history ID,ID,…] [--json]`: the K best
// items for a user from a graduated recommendation artifact, printed with titles (or as JSON).
// An unknown user with a history is a cold user (recommendations from the history); with neither,
// the model's fallback ranking, said so. Errors: not a recommendation artifact, unknown item ids
// in --history (named), --k out of range.
import { Command } from 'commander';
import { ValueError } from '../errors.js';
import { loadArtifact } from '../runtime/index.js';
import { type RecommendResult, recommend, recommendMeta } from '../runtime/recommend.js';

interface RecommendFlags {
  user?: string;
  k?: string;
  history?: string;
  json?: boolean;
}

/** The lines `graduate recommend` prints for one result. */
export function formatRecommendations(r: RecommendResult): string {
  const who = r.user === undefined ? 'no user' : `user ${r.user}`;
  const basis = {
    user: `${who}: from the user's own profile, items it rated left out`,
    history: `${who}${r.user === undefined ? '' : ' (unknown to the model)'}: a cold user, from the given history`,
    fallback: `${who}${r.user === undefined ? '' : ' (unknown to the model)'} and no history: FALLBACK — ${r.note}`,
  }[r.basis];
  const lines = [basis];
  const w = String(r.items.length).length;
  r.items.forEach((it, j) => {
    lines.push(`${String(j + 1).padStart(w)}. ${it.title ? `${it.title} (${it.id})` : it.id}  ${it.score.toFixed(4)}`);
  });
  if (r.ignored.length) lines.push(`history items without a trained row, left out: ${r.ignored.join(', ')}`);
  return lines.join('\n');
}

export function recommendCommand(): Command {
  return new Command('recommend')
    .description(
      'recommend items for a user from a graduated recommendation model (graduate compile of mf or two-tower)',
    )
    .argument('<model>', 'a .grad artifact of a recommendation model')
    .option('--user <id>', 'the user id (an unknown id is a cold user: give --history)')
    .option('--k <n>', "items to return (default: the model's K)")
    .option('--history <ids>', 'comma-separated item ids the user liked, oldest first (left out of the answer)')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, f: RecommendFlags) => {
      let k: number | undefined;
      if (f.k !== undefined) {
        k = Number(f.k);
        if (!Number.isInteger(k)) throw new ValueError(`--k must be an integer, got '${f.k}'`);
      }
      const history = f.history
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const model = await loadArtifact(path);
      try {
        recommendMeta(model.graph, path);
        const r = recommend(model, { user: f.user, history, k });
        console.log(f.json ? JSON.stringify(r, null, 2) : formatRecommendations(r));
      } finally {
        model.dispose();
      }
    });
}
