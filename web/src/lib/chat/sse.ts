/**
 * Reads a Server-Sent Events body (server/src/modules/chat/sse.ts: `event: <type>` and
 * one JSON `data:` line per event, `:` comments as keepalives) from a fetch Response.
 */
export interface ServerEvent {
  event: string;
  data: unknown;
}

/** Splits buffered text into complete events; returns them and the unfinished rest. */
export function parseEvents(buffer: string): { events: ServerEvent[]; rest: string } {
  const events: ServerEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length === 0) continue;
    try {
      events.push({ event, data: JSON.parse(data.join('\n')) });
    } catch {
      // not JSON: not one of ours, skip it
    }
  }
  return { events, rest };
}

/** Calls `onEvent` for each event of the body until it ends (or the fetch is aborted, which throws AbortError). */
export async function readEvents(response: Response, onEvent: (event: ServerEvent) => void): Promise<void> {
  if (!response.body) throw new Error('The answer has no body.');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const parsed = parseEvents(buffer + value);
    buffer = parsed.rest;
    for (const event of parsed.events) onEvent(event);
  }
  const last = parseEvents(buffer + '\n\n');
  for (const event of last.events) onEvent(event);
}
