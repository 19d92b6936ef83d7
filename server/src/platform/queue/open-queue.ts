import type { Logger } from 'pino';
import { BullMqQueue } from './bullmq-queue.js';
import { MemoryQueue } from './memory-queue.js';
import type { JobQueue } from './queue.js';

export interface OpenQueueOptions {
  /** BullMQ key prefix; default `bastion:queue`. */
  prefix?: string;
  /** BullMQ lock duration (crash detection); default 30 s. */
  lockDurationMs?: number;
  /** BullMQ stalled-job check interval; default 30 s. */
  stalledIntervalMs?: number;
  /** In-process queue bound (waiting + delayed + active); default 100 000. */
  maxJobs?: number;
  logger?: Logger;
}

/** BullMQ on Redis when a Redis URL is given, the in-process queue otherwise. */
export function openQueue(redisUrl: string | undefined, options: OpenQueueOptions = {}): JobQueue {
  if (!redisUrl) return new MemoryQueue({ maxJobs: options.maxJobs });
  return new BullMqQueue({
    redisUrl,
    prefix: options.prefix,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    logger: options.logger,
  });
}
