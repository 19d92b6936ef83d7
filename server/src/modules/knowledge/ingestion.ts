/** Builds the scanners and the ingestion pipeline from configuration; the API and `bastion worker` share it. */
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { ExtractLimits } from '../../platform/documents/extract.js';
import type { JobQueue } from '../../platform/queue/queue.js';
import { BuiltInScanner } from '../../platform/scan/builtin.js';
import { ClamdScanner } from '../../platform/scan/clamd.js';
import { ScannerUnavailableError, type Scanner, type ScanTarget, type ScanVerdict } from '../../platform/scan/scanner.js';
import { StorageGuard } from '../../platform/storage/free-space.js';
import type { SecurityEventSink } from '../security-events/service.js';
import type { ChunkEmbeddings } from './embeddings.js';
import type { IntakeScanners } from './intake.js';
import { IngestionPipeline } from './pipeline.js';

export const CHUNKING = { maxTokens: 300, overlapTokens: 40 };

export function extractLimits(config: Config): ExtractLimits {
  return { maxChars: 5_000_000, pdfTimeoutMs: config.PDF_TIMEOUT_MS, pdfMaxMemoryMb: config.PDF_MAX_MEMORY_MB, zipMaxEntries: 2_000, zipMaxTotalBytes: 200 * 1024 * 1024, zipMaxRatio: 100 };
}

/** ClamAV that, when CLAMD_FAIL_OPEN is set, lets files through (logged) while clamd is unreachable. */
class FailOpen implements Scanner {
  readonly name: string;
  constructor(
    private readonly inner: Scanner,
    private readonly logger: Logger,
  ) {
    this.name = inner.name;
  }
  async scan(target: ScanTarget, signal?: AbortSignal): Promise<ScanVerdict> {
    try {
      return await this.inner.scan(target, signal);
    } catch (error) {
      if (!(error instanceof ScannerUnavailableError)) throw error;
      this.logger.warn({ err: { message: error.message } }, 'clamd unreachable; CLAMD_FAIL_OPEN lets the file through on the built-in checks');
      return { clean: true };
    }
  }
}

export function createScanners(config: Config, logger: Logger): IntakeScanners {
  const clamd = config.CLAMD_URL ? new ClamdScanner({ url: config.CLAMD_URL }) : null;
  return { builtin: new BuiltInScanner(), clamav: clamd && config.CLAMD_FAIL_OPEN ? new FailOpen(clamd, logger) : clamd };
}

export function createPipeline(deps: {
  config: Config;
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  logger: Logger;
  queue: JobQueue;
  scanners: IntakeScanners;
  embeddings: ChunkEmbeddings;
  securityEvents: SecurityEventSink;
  /** The API's guard over the embedded database's disk; `bastion worker` (PostgreSQL only) has none. */
  storage?: StorageGuard;
}): IngestionPipeline {
  return new IngestionPipeline({
    db: deps.db,
    encryptor: deps.encryptor,
    clock: deps.clock,
    logger: deps.logger,
    queue: deps.queue,
    clamav: deps.scanners.clamav,
    extractLimits: extractLimits(deps.config),
    chunking: CHUNKING,
    attempts: deps.config.INGEST_ATTEMPTS,
    embeddings: deps.embeddings,
    securityEvents: deps.securityEvents,
    storage: deps.storage ?? StorageGuard.off(),
    oneSession: !deps.config.DATABASE_URL,
  });
}
