// Carrying figures over: a BENCH_ONLY subset still renders a whole docs/benchmarks.md. Each
// benchmark ("suite") comes from the newest run that ran it: this one, or the run the published
// docs/benchmarks.md took it from (named in its trailing `bench-sources` comment; a doc written
// before that comment existed names its one run in "this run: `...`"). Rows, per-round values,
// UI summaries and conditions are taken as that run left them, never re-measured or mixed with
// another run's, so paired ratios stay within one run.
// A run directory lives in .bench-tmp/, which is not committed: on a machine that does not have
// it (a fresh clone, `make clean`), that benchmark's figures are carried over as the published
// doc's own text (parsePublished below: its Targets rows, its section, its observations and its
// conditions rows), unchanged, so a subset run never drops figures it did not measure.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SUITES = ['dispatch', 'chunks', 'slow', 'ui', 'redis', 'serve', 'dashboard', 'coldstart', 'llm'];

/** Which benchmark a result row belongs to. */
export function suiteOfRow(r) {
  if (r.bench === 'slowwork-llm' || r.bench === 'openai-node') return 'llm';
  if (r.bench === 'slowwork-coldstart' || r.bench === 'node-bare') return 'coldstart';
  if (r.bench === 'slowwork-dashboard') return 'dashboard';
  if (r.bench === 'slowwork-serve' || r.bench === 'node-http') return 'serve';
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
  if (/slowwork llm/.test(label)) return ['llm'];
  if (/cold start/.test(label)) return ['coldstart'];
  if (/slowwork dashboard/.test(label)) return ['dashboard'];
  if (/slowwork serve|anchor node:http/.test(label)) return ['serve'];
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
    dashboard: readJson(join(dir, 'dashboard', 'summary.json')),
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

// ---- carrying over as text, when a run's directory is gone ---------------------------------------
const RUNS_RE = /<!-- bench-runs: (\{.*\}) -->/;
export const runsComment = (runs) => `<!-- bench-runs: ${JSON.stringify(runs)} -->`;

/** Which benchmark a line of the published doc belongs to, by the words report.mjs writes. */
const targetSuite = (line) =>
  /^\| embedded dispatch/.test(line) ? 'dispatch'
  : /^\| embedded chunk/.test(line) ? 'chunks'
  : /^\| slow work/.test(line) ? 'slow'
  : /^\| live view/.test(line) ? 'ui'
  : /^\| Redis/.test(line) ? 'redis'
  : /^\| HTTP server/.test(line) ? 'serve'
  : /^\| Dashboard/.test(line) ? 'dashboard'
  : /^\| Cold start/.test(line) ? 'coldstart'
  : /^\| LLM client/.test(line) ? 'llm' : null;
const sectionSuite = (header) =>
  /Embedded dispatch/.test(header) ? 'dispatch'
  : /Embedded chunk/.test(header) ? 'chunks'
  : /Slow work/.test(header) ? 'slow'
  : /Live view/.test(header) ? 'ui'
  : /Redis mode/.test(header) ? 'redis'
  : /HTTP server/.test(header) ? 'serve'
  : /Dashboard/.test(header) ? 'dashboard'
  : /Cold start/.test(header) ? 'coldstart'
  : /LLM client/.test(header) ? 'llm' : null;
export const observationSuite = (text) =>
  /^Dashboard/.test(text) ? 'dashboard'
  : /^Cold start/.test(text) ? 'coldstart'
  : /^LLM client/.test(text) ? 'llm'
  : /^HTTP server/.test(text) ? 'serve'
  : /^(Redis|AOF)/.test(text) ? 'redis'
  : /^The same 100 chunks/.test(text) ? 'chunks'
  : /^Dispatch:/.test(text) ? 'dispatch'
  : /^(Slow work:|The CLI takes)/.test(text) ? 'slow'
  : /^(The live|The demo processor delivered)/.test(text) ? 'ui' : null;
const settingSuite = (fragment) => (/^dispatch /.test(fragment) ? 'dispatch' : /^streaming /.test(fragment) ? 'chunks' : /^slow work /.test(fragment) ? 'slow' : null);

/**
 * The published doc, split by benchmark: {thisRun, runs: {dir: {date, commit, runs, redis}},
 * targets, sections, settings, observations: {suite: [text]}, conditions: [rows with their run]}.
 */
export function parsePublished(docPath) {
  const empty = { thisRun: null, runs: {}, targets: {}, sections: {}, settings: {}, observations: {}, conditions: [] };
  if (!existsSync(docPath)) return empty;
  const text = readFileSync(docPath, 'utf8');
  const lines = text.split('\n');
  const out = { ...empty, runs: {}, targets: {}, sections: {}, settings: {}, observations: {}, conditions: [] };
  const add = (map, suite, v) => { if (suite) (map[suite] ??= []).push(v); };
  out.thisRun = /\(this run: `([^`]+)`\)/.exec(text)?.[1] ?? null;

  // what each run was: from the comment report.mjs now writes, else from the prose of older docs
  const m = RUNS_RE.exec(text);
  if (m) out.runs = JSON.parse(m[1]);
  else {
    const runsText = /RUNS=(.+?) runs, with the min/.exec(text)?.[1] ?? '';
    const perSuite = Object.fromEntries([...runsText.matchAll(/(\d+) \((\w+)\)/g)].map((x) => [x[2], Number(x[1])]));
    const single = /^\d+$/.test(runsText) ? Number(runsText) : null;
    const sources = SOURCES_RE.exec(text) ? JSON.parse(SOURCES_RE.exec(text)[1]) : {};
    if (out.thisRun) {
      const mine = Object.keys(sources).filter((s) => sources[s] === out.thisRun);
      out.runs[out.thisRun] = {
        date: /\) on (\d{4}-\d{2}-\d{2})/.exec(text)?.[1] ?? null,
        commit: /slowwork at commit `([^`]+)`/.exec(text)?.[1] ?? null,
        runs: single ?? perSuite[mine[0]] ?? null,
        redis: /redis-server ([\d.]+)/.exec(text)?.[1] ?? null,
      };
    }
    for (const x of text.matchAll(/from `([^`]+)` \((\S+), slowwork `([^`]+)`, RUNS=(\d+)\)/g)) {
      out.runs[x[1]] = { date: x[2], commit: x[3], runs: Number(x[4]), redis: null };
    }
  }

  let section = null, table = null;
  for (const line of lines) {
    if (line.startsWith('## ')) {
      section = line;
      table = null;
      if (line === '## Conditions' || line === '## Reproduce' || line === '## Observations' || line === '## Targets' || line === '## Machine and method') continue;
    }
    if (section === '## Targets') {
      if (line.startsWith('| ')) add(out.targets, targetSuite(line), line);
      else if (line.startsWith('Settings of the figures in this table: ')) {
        for (const f of line.slice('Settings of the figures in this table: '.length).replace(/\.$/, '').split('; ')) add(out.settings, settingSuite(f), f);
      }
    } else if (section === '## Observations') {
      if (line.startsWith('- ')) add(out.observations, observationSuite(line.slice(2)), line.slice(2));
    } else if (section === '## Conditions') {
      if (line.startsWith('| run |')) table = 'run';
      else if (line.startsWith('| step |')) table = 'plain';
      else if (table && line.startsWith('| ') && !line.startsWith('|---')) {
        const cells = line.slice(2, -2).split(' | ');
        const [run, step, idle, others, seconds] = table === 'run' ? cells : ['this run', ...cells];
        const dir = run === 'this run' ? out.thisRun : `.bench-tmp/${run.replace(/`/g, '')}`;
        out.conditions.push({ run: dir, step, cpuIdleBeforePct: parseInt(idle), othersCpuPctDuring: parseInt(others), seconds: Number(seconds) });
      }
    } else if (section && /^## \d+\. /.test(section)) {
      add(out.sections, sectionSuite(section), line);
    }
  }
  // a section ends with its blank line; keep exactly one
  for (const s of Object.keys(out.sections)) {
    const l = out.sections[s];
    while (l.length && l.at(-1) === '') l.pop();
    l.push('');
  }
  return out;
}

/**
 * A stand-in for loadRun() when only the published text is left: no rows, but the run's
 * metadata and its conditions rows (carried as they were published).
 */
export function textRun(dir, published) {
  const meta = published.runs[dir] ?? {};
  return {
    dir, textOnly: true, rows: [], rounds: {},
    env: { date: meta.date ?? undefined },
    run: { runs: meta.runs ?? '?', slowworkCommit: meta.commit ?? '?', redis: meta.redis ?? undefined },
    conditions: published.conditions.filter((c) => c.run === dir).map(({ run, ...c }) => c),
    uiTui: null, uiPlain: null, dashboard: null, failed: [],
  };
}
