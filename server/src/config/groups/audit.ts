/** The `Audit` group. Signed checkpoints of the audit log. */
import { int, type Variable } from '../variable.js';

export const auditVariables = {
  AUDIT_CHECKPOINT_EVERY: {
    group: 'Audit',
    schema: int(1, 1_000_000, 100),
    doc: 'Sign a checkpoint of the audit log every this many entries: entries cut off the end of the log up to a checkpoint are then detected by `bastion audit verify`.',
  },
  AUDIT_CHECKPOINT_MINUTES: {
    group: 'Audit',
    schema: int(0, 1_440, 10),
    doc: 'Also sign a checkpoint this often when entries were added since the last one; 0: only every AUDIT_CHECKPOINT_EVERY entries.',
  },
} satisfies Record<string, Variable>;
