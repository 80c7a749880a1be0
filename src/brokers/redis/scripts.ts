/**
 * The Lua scripts, one per atomic operation (lua/*.lua, each documents its KEYS and ARGV), loaded
 * with ioredis `defineCommand` (EVALSHA, falling back to EVAL once after a restart). A line
 * `--@include name` pulls in lua/includes/name.lua, so shared steps such as finalize exist once.
 * Callers go through script-calls.ts, one typed function per script that names its KEYS once.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { ownUrl } from '../../install-dir.js';

const SCRIPTS = {
  createJob: { file: 'create-job', keys: 3 },
  enqueue: { file: 'enqueue', keys: 3 },
  seal: { file: 'seal', keys: 5 },
  claim: { file: 'claim', keys: 5 },
  report: { file: 'report', keys: 9 },
  promote: { file: 'promote', keys: 2 },
  requeue: { file: 'requeue', keys: 8 },
  cancel: { file: 'cancel', keys: 5 },
  cancelItem: { file: 'cancel-item', keys: 5 },
  heartbeat: { file: 'heartbeat', keys: 2 },
  forgetWorker: { file: 'forget-worker', keys: 3 },
  trim: { file: 'trim', keys: 1 },
  quota: { file: 'quota', keys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;

/** A connection with the scripts defined on it. */
export type ScriptedRedis = Redis & { [K in ScriptName]: (...keysAndArgs: Arg[]) => Promise<unknown> };

/** The scripts live beside this module's sources (the build copies them into dist/). */
const luaDir = ownUrl('brokers/redis/lua/');

let sources: Map<ScriptName, string> | null = null;

export function scriptSource(name: ScriptName): string {
  if (!sources) {
    sources = new Map();
    for (const [key, def] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
      sources.set(key, withIncludes(readFileSync(new URL(`${def.file}.lua`, luaDir), 'utf8')));
    }
  }
  return sources.get(name)!;
}

function withIncludes(source: string): string {
  return source.replace(/^--@include (\S+)$/gm, (_, name: string) => readFileSync(new URL(`includes/${name}.lua`, luaDir), 'utf8'));
}

export function defineScripts(redis: Redis): ScriptedRedis {
  for (const [name, def] of Object.entries(SCRIPTS) as [ScriptName, (typeof SCRIPTS)[ScriptName]][]) {
    redis.defineCommand(name, { numberOfKeys: def.keys, lua: scriptSource(name) });
  }
  return redis as ScriptedRedis;
}
