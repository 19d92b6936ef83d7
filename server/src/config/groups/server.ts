/** The `Server` group. Process basics: where Bastion listens, where it keeps data, how it logs and stops. */
import { z } from 'zod';
import { int, url, type Variable } from '../variable.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serverVariables = {
  NODE_ENV: {
    group: 'Server',
    schema: z.enum(['development', 'test', 'production']).default('development'),
    doc: '`production` refuses insecure settings (embedded backends, weak keys, http PUBLIC_URL, wildcard CORS).',
  },
  HOST: { group: 'Server', schema: z.string().min(1).default('127.0.0.1'), doc: 'Interface to listen on.' },
  PORT: { group: 'Server', schema: int(0, 65535, 3000), doc: 'TCP port to listen on (0 picks a free port).' },
  PUBLIC_URL: {
    group: 'Server',
    schema: url(['http', 'https']).optional(),
    doc: 'External URL people use to reach Bastion (links in mails, allowed origins); must be https in production. Defaults to http://HOST:PORT, a wildcard HOST as `localhost`; with PORT=0, `bastion serve` picks the port first and uses it. CLI commands derive it from their own environment: run `bastion users invite` with the server’s PUBLIC_URL (or HOST and PORT).',
    example: '',
  },
  DATA_DIR: {
    group: 'Server',
    schema: z.string().min(1).default('./data'),
    doc: 'Directory for the embedded database and generated files.',
  },
  STORAGE_MIN_FREE_BYTES: {
    group: 'Server',
    schema: int(0, 1e13, 67_108_864),
    doc: 'Embedded database only: below this many free bytes under DATA_DIR, changes are refused with 507 `insufficient_storage` and /readyz reports `storage: low`; sign-in, sign-out and reads keep working. Keep it above 32 MiB: the database grows its write-ahead log 16 MiB at a time.',
  },
  LOG_LEVEL: { group: 'Server', schema: z.enum(LOG_LEVELS).default('info'), doc: 'pino log level.' },
  SHUTDOWN_TIMEOUT_MS: {
    group: 'Server',
    schema: int(0, 600_000, 10_000),
    doc: 'Upper bound on how long SIGTERM/SIGINT waits for in-flight requests (answer streams included) before closing their connections; the process exits as soon as they are done.',
  },
} satisfies Record<string, Variable>;
