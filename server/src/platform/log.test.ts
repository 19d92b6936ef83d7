/** The per-request child logger costs nothing until a line is written. */
import { describe, expect, it, vi } from 'vitest';
import { LogCapture } from '../../test/harness.js';
import { createLogger, lazyChildLogger } from './log.js';

describe('lazyChildLogger', () => {
  it('creates no child when its methods are only looked up (as Fastify does for every request), one when a line is written', () => {
    const capture = new LogCapture();
    const logger = createLogger('warn', capture);
    const child = vi.spyOn(logger, 'child');
    const requestLogger = lazyChildLogger(logger, { requestId: 'r-1' }, {});
    for (const method of ['info', 'error', 'debug', 'fatal', 'warn', 'trace', 'child'] as const) expect(typeof requestLogger[method]).toBe('function');
    requestLogger.info('below the level');
    expect(child).not.toHaveBeenCalled();
    requestLogger.warn({ detail: 1 }, 'written');
    requestLogger.error('written too');
    expect(child).toHaveBeenCalledTimes(1);
    expect(capture.records().map((r) => [r.msg, r.requestId])).toEqual([
      ['written', 'r-1'],
      ['written too', 'r-1'],
    ]);
  });
});
