/**
 * `slowwork serve` as a user runs it, at its edges: what a chat hands a processor, slow and
 * stopping clients, the address it advertises. The built binary, real sockets, real clients.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { FAST, processorFixture, startServe, tempDirsPerFile } from './run.js';

const dir = tempDirsPerFile();

describe('a chat request hands a processor', () => {
  it('the conversation as text, unless the processor says it accepts messages', async () => {
    const { s, url } = await startServe(['--processor', processorFixture('shout.mjs'), '--processor', processorFixture('chat-messages.mjs'), ...FAST], await dir());
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const one = await client.chat.completions.create({ model: 'shout', messages: [{ role: 'user', content: 'hi there' }] });
      expect(one.choices[0]!.message.content).toBe('HI THERE ');
      const two = await client.chat.completions.create({
        model: 'shout',
        messages: [
          { role: 'system', content: 'be loud' },
          { role: 'user', content: 'hi' },
        ],
      });
      expect(two.choices[0]!.message.content).toBe('SYSTEM: BE LOUD\nUSER: HI ');
      const raw = await client.chat.completions.create({
        model: 'chat-messages',
        messages: [
          { role: 'system', content: 'x' },
          { role: 'user', content: 'y' },
        ],
      });
      expect(raw.choices[0]!.message.content).toBe('system,user');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
