/** The `Knowledge` group. Uploads, malware scanning and the ingestion workers. */
import { z } from 'zod';
import type { Variable } from '../variable.js';

export const knowledgeVariables = {
  UPLOAD_MAX_BYTES: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_024).max(1_073_741_824).default(26_214_400),
    doc: 'Largest document accepted (upload or URL), in bytes; the transfer stops at this size.',
  },
  WORKSPACE_STORAGE_QUOTA_BYTES: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_024).max(1e13).default(1_073_741_824),
    doc: 'Total size of the documents one workspace may keep, in bytes.',
  },
  CLAMD_URL: {
    group: 'Knowledge',
    schema: z
      .string()
      .regex(/^(tcp:\/\/[^/]+:\d+|unix:\/\/\/.+)$/, 'tcp://host:port or unix:///path/to/clamd.sock')
      .optional(),
    doc: 'ClamAV daemon for malware scanning in addition to the built-in checks (tcp://127.0.0.1:3310 or unix:///run/clamav/clamd.ctl).',
    example: '',
  },
  CLAMD_FAIL_OPEN: {
    group: 'Knowledge',
    schema: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    doc: 'When ClamAV is unreachable: false (default) holds documents in `scanning` and retries; true lets them through on the built-in checks alone.',
  },
  INGEST_IN_PROCESS: {
    group: 'Knowledge',
    schema: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    doc: 'Run ingestion workers inside the API process. Set false when `bastion worker` processes run separately (needs REDIS_URL).',
  },
  INGEST_CONCURRENCY: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1).max(64).default(2),
    doc: 'Documents ingested at once per worker process.',
  },
  QUEUE_LOCK_MS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1_000).max(600_000).default(30_000),
    doc: 'With Redis: how long a job stays claimed by a worker that stopped answering. Jobs of a crashed worker run again after about 1.5× this.',
  },
  INGEST_ATTEMPTS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1).max(20).default(5),
    doc: 'Tries per document (with backoff) before it is marked failed with the reason.',
  },
  PDF_TIMEOUT_MS: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(500).max(300_000).default(20_000),
    doc: 'Time a PDF may take to parse (in a worker thread) before it is refused.',
  },
  PDF_MAX_MEMORY_MB: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(32).max(4_096).default(256),
    doc: 'Heap limit of the PDF parsing worker thread.',
  },
  SEARCH_CONCURRENCY: {
    group: 'Knowledge',
    schema: z.coerce.number().int().min(1).max(256).optional(),
    doc: 'Knowledge searches one API process runs against the database at once; the others wait their turn. Default: the number of CPU cores + 1. Raise it when PostgreSQL runs on a machine with more cores than this one.',
    example: '',
  },
} satisfies Record<string, Variable>;
