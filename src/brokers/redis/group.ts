/** The work stream's consumer group, which every worker reads through and the submitter ensures. */
import type { Redis } from 'ioredis';
import { describeError } from '../../core/errors.js';
import { GROUP, type QueueKeys } from './keys.js';

/** Creates the group if it is missing (from 0, so entries added before any worker existed are served too). */
export async function ensureGroup(redis: Redis, keys: QueueKeys): Promise<void> {
  try {
    await redis.xgroup('CREATE', keys.items, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(describeError(err))) throw err;
  }
}
