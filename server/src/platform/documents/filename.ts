/**
 * Display filenames from clients: Unicode NFC, the last path segment only, no control
 * characters, at most 255 characters. They are shown, never used as paths (stored files
 * are named by id). Anything that looks like a traversal attempt is refused outright.
 */
import { DocumentError } from './errors.js';

const MAX_LENGTH = 255;

export function normalizeFilename(raw: string): { name: string; extension: string } {
  const refuse = () => new DocumentError('invalid_filename', 'The filename is empty, too long, or contains path or control characters.');
  const name = raw.normalize('NFC').trim();
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (name === '' || name.length > MAX_LENGTH || /[\u0000-\u001f\u007f]/.test(name) || /[/\\]/.test(name) || name === '.' || name === '..' || name.startsWith('..')) throw refuse();
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  return { name, extension };
}
