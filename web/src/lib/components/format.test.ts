import { describe, expect, it } from 'vitest';
import { formatBytes } from './format';

describe('formatBytes', () => {
  it('shows documents in MB, small files in KB, and tiny ones in bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(1024)).toBe('1 KB');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(340 * 1024 + 400)).toBe('340 KB');
    expect(formatBytes(1024 * 1024)).toBe('1 MB');
    expect(formatBytes(3_039_998)).toBe('2.9 MB');
    expect(formatBytes(26_214_400)).toBe('25 MB'); // UPLOAD_MAX_BYTES's default
    expect(formatBytes(29.3 * 1024 * 1024)).toBe('29.3 MB');
    expect(formatBytes(250 * 1024 * 1024)).toBe('250 MB');
    expect(formatBytes(1_073_741_824)).toBe('1 GB');
  });

  it('never shows nonsense for a missing or negative size', () => {
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });
});
