// Merges the interleaved rounds (OUT/rounds/rN.jsonl, one run per metric each) into
// OUT/results.jsonl, in the anchors' row format (median, min, max and runs over the rounds), and
// keeps the per-round values in OUT/rounds.json so the report can pair anchor and slowwork runs.
// Usage: node bench/lib/merge.mjs OUT
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OUT = process.argv[2];
const dir = join(OUT, 'rounds');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^r\d+\.jsonl$/.test(f)).sort((a, b) => parseInt(a.slice(1)) - parseInt(b.slice(1))) : [];
const median = (a) => {
  const s = [...a].sort((x, y) => x - y), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const groups = new Map();
files.forEach((f, r) => {
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line);
    const key = `${row.bench}|${row.metric}|${row.mode}`;
    if (!groups.has(key)) groups.set(key, { row, perRound: new Array(files.length).fill(null) });
    groups.get(key).perRound[r] = row.runs.length === 1 ? row.runs[0] : median(row.runs);
  }
});
const rows = [], rounds = {};
for (const [key, { row, perRound }] of groups) {
  const runs = perRound.filter((v) => v !== null);
  rows.push({ ...row, median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs, settings: { ...row.settings, rounds: runs.length } });
  rounds[key] = perRound;
}
writeFileSync(join(OUT, 'results.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
writeFileSync(join(OUT, 'rounds.json'), JSON.stringify(rounds, null, 1));
console.log(`merged ${files.length} rounds into ${rows.length} rows: ${join(OUT, 'results.jsonl')}`);
