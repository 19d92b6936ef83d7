/** Cache statistics for administrators; every read is recorded in the audit log. */
import type { CacheStats } from '../../platform/store/cache.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';

export class CacheStatsService {
  constructor(
    private readonly stats: CacheStats,
    private readonly audit: AuditLog,
  ) {}

  /** Hit and miss counts of this process's caches, read by `actor` (`admin.cache.read`). */
  async read(actor: Actor): Promise<ReturnType<CacheStats['snapshot']>> {
    await this.audit.recordAction(actor, { action: 'admin.cache.read' });
    return this.stats.snapshot();
  }
}
