/** Opaque keyset cursors: `<epoch ms>.<uuid>` in base64url. A forged one is a 400, never a query. */
import { z } from 'zod';
import { AppError } from '../../errors.js';

const DECODED = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const cursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,80}$/)
  .describe('The `nextCursor` of the previous page');

export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}.${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): { at: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const match = DECODED.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new AppError('validation_failed', 'Invalid request: querystring.cursor: not a cursor from this endpoint.', [{ path: 'querystring.cursor', message: 'invalid cursor' }]);
  return { at: new Date(Number(match[1])), id: match[2]! };
}

/** The next page's cursor when the page is full. */
export function nextCursor<T extends { id: string }>(rows: T[], limit: number, at: (row: T) => Date): string | null {
  const last = rows.at(-1);
  return rows.length === limit && last ? encodeCursor(at(last), last.id) : null;
}
