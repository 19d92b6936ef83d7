/**
 * One answer being generated: posts to a streaming endpoint, applies the events
 * (server/src/modules/chat/routes.ts) to a live message, and copies the streamed text
 * into reactive state at most once per animation frame so a long, fast answer does
 * not re-render on every token.
 */
import { send } from '$lib/api';
import { readEvents } from './sse';
import type { ChatMessage, Citation } from './types';

export interface ToolActivity {
  id: string;
  name: string;
  ok: boolean | null;
}

export interface RunResult {
  /** The stored user message (sending only). */
  userMessage?: ChatMessage;
  /** The answer as stored, or as far as it got. */
  answer: ChatMessage;
  error?: { code: string; message: string };
}

export function emptyAnswer(id: string): ChatMessage {
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a timestamp string; the Date is not kept
  return { id, role: 'assistant', text: '', status: 'streaming', stopReason: null, citations: [], toolCalls: [], agentVersion: null, model: null, usage: { inputTokens: 0, outputTokens: 0 }, createdAt: new Date().toISOString() };
}

export class LiveAnswer {
  message = $state<ChatMessage>(emptyAnswer('pending'));
  tools = $state<ToolActivity[]>([]);
  private text = '';
  private frame = 0;
  private readonly controller = new AbortController();

  /** Called with the stored user message as soon as the server has it. */
  constructor(private readonly onUserMessage?: (message: ChatMessage) => void) {}

  /** Streams the answer; resolves when it ends (done, error, dropped connection or abort). Throws ApiError if refused before streaming. */
  async run(path: string, body: unknown): Promise<RunResult> {
    let result: RunResult | null = null;
    let userMessage: ChatMessage | undefined;
    try {
      const response = await send('POST', path, body, { signal: this.controller.signal, headers: { accept: 'text/event-stream' } });
      await readEvents(response, ({ event, data }) => {
        const d = data as Record<string, unknown>;
        if (event === 'message') {
          userMessage = d.message as ChatMessage;
          this.message.id = d.answerId as string;
          this.onUserMessage?.(userMessage);
        } else if (event === 'delta') {
          this.text += d.text as string;
          this.schedule();
        } else if (event === 'tool_call') {
          this.tools.push({ id: d.id as string, name: d.name as string, ok: null });
        } else if (event === 'tool_result') {
          const tool = this.tools.find((t) => t.id === d.id);
          if (tool) tool.ok = d.ok as boolean;
        } else if (event === 'citations') {
          this.message.citations = d.citations as Citation[];
        } else if (event === 'done') {
          result = { userMessage, answer: d.message as ChatMessage, ...(d.error ? { error: d.error as RunResult['error'] } : {}) };
        } else if (event === 'error') {
          result = { userMessage, answer: this.cutShort('failed', d.code as string), error: d as RunResult['error'] };
        }
      });
    } catch (error) {
      if (!(error instanceof DOMException && error.name === 'AbortError') && !userMessage && this.text === '') throw error;
    } finally {
      cancelAnimationFrame(this.frame);
    }
    // Without `done` the stream was cut (aborted or dropped): keep what arrived, marked.
    return result ?? { userMessage, answer: this.cutShort('incomplete', this.controller.signal.aborted ? 'cancelled' : 'disconnected') };
  }

  /** Stops reading (the server records the answer as cut short). */
  abort(): void {
    this.controller.abort();
  }

  private cutShort(status: 'incomplete' | 'failed', reason: string): ChatMessage {
    return { ...$state.snapshot(this.message), text: this.text, status, stopReason: reason };
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.message.text = this.text;
    });
  }
}
