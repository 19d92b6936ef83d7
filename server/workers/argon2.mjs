// argon2id for the main thread, in a worker thread of the password pool
// (server/src/modules/auth/password-pool.ts). Plain JavaScript so the same file serves the
// compiled server and the tests; the pool sets these threads' priority.
import { getPriority } from 'node:os';
import { hashSync, verifySync } from '@node-rs/argon2';

/**
 * `{ op: 'hash', password, options }` → the PHC string; `{ op: 'verify', hash, password }` →
 * boolean; `{ op: 'priority' }` → this thread's nice value (on Linux, per thread).
 */
export default function run(task) {
  if (task.op === 'hash') return hashSync(task.password, task.options);
  if (task.op === 'priority') return getPriority(0);
  try {
    return verifySync(task.hash, task.password);
  } catch {
    return false; // a malformed stored hash verifies nothing
  }
}
