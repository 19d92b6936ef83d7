// argon2id for the main thread, in a worker thread of the password pool
// (server/src/modules/auth/password-pool.ts). Plain JavaScript so the same file serves the
// compiled server and the tests; the pool lowers these threads' priority.
import { hashSync, verifySync } from '@node-rs/argon2';

/** `{ op: 'hash', password, options }` → the PHC string; `{ op: 'verify', hash, password }` → boolean. */
export default function run(task) {
  if (task.op === 'hash') return hashSync(task.password, task.options);
  try {
    return verifySync(task.hash, task.password);
  } catch {
    return false; // a malformed stored hash verifies nothing
  }
}
