/** Small formatters shared by the screens. */
/**
 * A size for people: MB for documents (one decimal, none when whole: "25 MB", "29.3 MB"),
 * KB below 1 MB, bytes below 1 KB, GB from 1 GB. Binary units, as the server's byte settings
 * (UPLOAD_MAX_BYTES = 26214400 is 25 MB).
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units: [string, number][] = [
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['KB', 1024],
  ];
  for (const [unit, size] of units) {
    if (bytes < size) continue;
    const value = bytes / size;
    // One decimal, dropped when it is .0; whole numbers from 100 up (no "512.4 KB" noise).
    const shown = value >= 100 ? String(Math.round(value)) : String(Math.round(value * 10) / 10);
    return `${shown} ${unit}`;
  }
  return `${bytes} B`;
}

export function formatDate(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—';
}

export function formatNumber(value: number): string {
  return value.toLocaleString();
}
