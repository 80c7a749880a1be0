// The anchor of bench/llm-client.mjs: what a user would write with the official `openai` npm
// client instead of slowwork. LANES lanes take the prompts of a file in turn; each sends a
// streaming chat completion (max_tokens), joins the answer's text and writes one JSONL line per
// answer to a WriteStream. The client has its default settings (retries, timeout, agent); the
// key comes from OPENAI_API_KEY, as the client reads it.
//
// Usage: node bench/llm-anchor-openai.mjs --base-url URL --model M --prompts FILE --out FILE
//        [--lanes 64] [--max-tokens 200]
import { createWriteStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';

const { values: a } = parseArgs({
  options: {
    'base-url': { type: 'string' }, model: { type: 'string' }, prompts: { type: 'string' }, out: { type: 'string' },
    lanes: { type: 'string', default: '64' }, 'max-tokens': { type: 'string', default: '200' },
  },
});
for (const k of ['base-url', 'model', 'prompts', 'out']) {
  if (!a[k]) { console.error(`--${k} is required`); process.exit(2); }
}
const lanes = Number(a.lanes), maxTokens = Number(a['max-tokens']);
const prompts = readFileSync(a.prompts, 'utf8').split('\n').filter((l) => l.trim());
const client = new OpenAI({ baseURL: a['base-url'] });
const out = createWriteStream(a.out);

let next = 0;
async function lane() {
  while (next < prompts.length) {
    const i = next++;
    const stream = await client.chat.completions.create({
      model: a.model,
      messages: [{ role: 'user', content: prompts[i] }],
      max_tokens: maxTokens,
      stream: true,
    });
    const parts = [];
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) parts.push(piece);
    }
    out.write(JSON.stringify({ id: String(i + 1), index: i, input: prompts[i], output: parts.join('') }) + '\n');
  }
}

await Promise.all(Array.from({ length: lanes }, lane));
await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
