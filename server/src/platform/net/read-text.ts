/**
 * Bounded body reading. A fetched page or a provider's error body is untrusted input:
 * reading it whole would let one response exhaust memory, so reading stops (and the
 * connection is released) as soon as the limit is passed.
 */
import { NetError } from './errors.js';

/** Reads at most maxBytes of the body as UTF-8 text; throws NetError too_large when exceeded (and cancels the body). */
export async function readTextLimited(response: Response, maxBytes: number): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  const tooLarge = (): NetError => new NetError('too_large', `The response is larger than the ${maxBytes}-byte limit`);
  // A declared length over the limit fails before a byte is read.
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let received = 0;
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      // The declared length can lie (or be absent, with chunked encoding): count what arrives.
      if (received > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    throw readError(error);
  } finally {
    reader.releaseLock();
  }
  return text + decoder.decode();
}

function readError(error: unknown): NetError {
  if (error instanceof NetError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new NetError('aborted', 'The request was cancelled', { cause: error });
  }
  return new NetError('network', 'The connection failed while reading the response', { cause: error });
}
