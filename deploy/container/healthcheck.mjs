// The image's HEALTHCHECK: healthy when /readyz answers 200 within 4 s. A worker container
// (no HTTP server) sets HEALTHCHECK_URL= (empty) to report healthy while its process runs.
const url = process.env.HEALTHCHECK_URL ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}/readyz`;
if (url === '') process.exit(0);
try {
  const response = await fetch(url, { signal: globalThis.AbortSignal.timeout(4_000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
