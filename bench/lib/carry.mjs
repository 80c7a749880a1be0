// Carrying figures over: a BENCH_ONLY subset still renders a whole docs/benchmarks.md. Each
// benchmark ("suite") comes from the newest run that ran it: this one, or the run the published
// docs/benchmarks.md took it from (named in its trailing `bench-sources` comment; a doc written
// before that comment existed names its one run in "this run: `...`"). Rows, per-round values,
// UI summaries and conditions are taken as that run left them, never re-measured or mixed with
// another run's, so paired ratios stay within one run.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SUITES = ['dispatch', 'chunks', 'slow', 'ui', 'redis'];

/** Which benchmark a result row belongs to. */
export function suiteOfRow(r) {
  if (r.bench === 'slowwork-redis' || r.bench === 'bullmq' || r.bench === 'redis-chunks') return 'redis';
  if (r.bench === 'slowwork-ui') return 'ui';
  if (r.bench === 'slowwork-cli' || r.bench === 'node-timers') return 'slow';
  if (r.bench === 'slowwork-embedded') return r.metric.startsWith('dispatch') ? 'dispatch' : r.metric.startsWith('stream') ? 'chunks' : 'slow';
  if (r.bench === 'piscina') return r.metric.startsWith('stream') ? 'chunks' : 'dispatch';
  if (r.bench === 'worker_threads') return 'chunks';
  return 'other';
}

/** Which benchmarks a step of conditions.jsonl served. */
export function suitesOfStep(label) {
  if (/redis|bullmq|streams chunks/.test(label)) return ['redis'];
  if (/anchor piscina/.test(label)) return ['dispatch', 'chunks'];
  if (/worker_threads|slowwork chunks/.test(label)) return ['chunks'];
  if (/slowwork dispatch/.test(label)) return ['dispatch'];
  if (/slow work/.test(label)) return ['slow'];
  if (/live view|plain baseline/.test(label)) return ['ui'];
  return [];
}

const readJson = (f, fallback = null) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : fallback);
const readJsonl = (f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : []);

/** Everything report.mjs reads from one run's directory. */
export function loadRun(dir) {
  return {
    dir,
    rows: readJsonl(join(dir, 'results.jsonl')),
    rounds: readJson(join(dir, 'rounds.json'), {}),
    env: readJson(join(dir, 'env.json'), {}),
    run: readJson(join(dir, 'run.json'), {}),
    conditions: readJsonl(join(dir, 'conditions.jsonl')),
    uiTui: readJson(join(dir, 'ui-tui', 'summary.json')),
    uiPlain: readJson(join(dir, 'ui-plain', 'summary.json')),
    failed: existsSync(join(dir, 'failed.txt')) ? readFileSync(join(dir, 'failed.txt'), 'utf8').trim().split('\n').filter(Boolean) : [],
  };
}

const SOURCES_RE = /<!-- bench-sources: (\{.*\}) -->/;
export const sourcesComment = (sources) => `<!-- bench-sources: ${JSON.stringify(sources)} -->`;

/** suite -> run directory (relative to the repo) that the published doc took it from. */
export function previousSources(docPath, repo) {
  if (!existsSync(docPath)) return {};
  const text = readFileSync(docPath, 'utf8');
  const m = SOURCES_RE.exec(text);
  if (m) return JSON.parse(m[1]);
  const single = /\(this run: `([^`]+)`\)/.exec(text)?.[1];
  if (!single || !existsSync(join(repo, single, 'run.json'))) return {};
  const only = (readJson(join(repo, single, 'run.json'), {}).only || '').split(',').filter(Boolean);
  return Object.fromEntries(only.map((s) => [s, single]));
}
