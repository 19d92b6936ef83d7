/** The `Secrets` group. Master keys for envelope encryption. */
import { z } from 'zod';
import type { Variable } from '../variable.js';

export const secretsVariables = {
  MASTER_KEYS: {
    group: 'Secrets',
    schema: z.string().optional(),
    doc: 'Master keys as `id:base64key` (32 random bytes each), comma-separated, the active one marked `*id:…`. Required in production unless MASTER_KEYS_FILE is set. Unset in development: a key file is generated under DATA_DIR.',
    example: '',
    secret: true,
  },
  MASTER_KEYS_FILE: {
    group: 'Secrets',
    schema: z.string().min(1).optional(),
    doc: 'Path of a file holding the master keys in the MASTER_KEYS format, one per line (mode 0600). `bastion keys rotate` edits it in place.',
    example: '',
  },
} satisfies Record<string, Variable>;
