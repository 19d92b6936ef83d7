/** The `Database` group. PostgreSQL (or the embedded PGlite when DATABASE_URL is unset). */
import { int, url, type Variable } from '../variable.js';

export const databaseVariables = {
  DATABASE_URL: {
    group: 'Database',
    schema: url(['postgres', 'postgresql']).optional(),
    doc: 'PostgreSQL connection URL. Unset: embedded PGlite under DATA_DIR (single process only).',
    example: '',
    secret: true,
  },
  DB_POOL_MAX: { group: 'Database', schema: int(1, 1_000, 10), doc: 'Maximum connections in the PostgreSQL pool.' },
  DB_STATEMENT_TIMEOUT_MS: {
    group: 'Database',
    schema: int(0, 3_600_000, 15_000),
    doc: 'Server-side statement timeout per connection (0 disables).',
  },
  DB_IDLE_TIMEOUT_MS: {
    group: 'Database',
    schema: int(0, 3_600_000, 30_000),
    doc: 'Close pooled connections idle longer than this.',
  },
  DB_CONNECT_TIMEOUT_MS: {
    group: 'Database',
    schema: int(100, 600_000, 5_000),
    doc: 'Give up opening a database connection after this long (the request gets 503).',
  },
} satisfies Record<string, Variable>;
