/**
 * The agent loop: model turn → tool calls → results back to the model, until it
 * answers without tools or a bound is hit (steps, wall time, tokens). Streams what
 * happens through `emit`; never throws for provider failures or aborts — the caller
 * gets what was produced so far and why it stopped, to keep it.
 */
import { AppError } from '../../errors.js';
import { ProviderError, type ChatEvent, type ChatMessage, type ChatRequest, type Passage, type ToolCall } from '../../platform/llm/types.js';
import { NetError } from '../../platform/net/errors.js';
import type { AgentConfig } from '../agents/config.js';
import { wrapUntrusted } from './prompt.js';
import { runTool, TOOL_SPECS, type ToolContext } from './tools.js';

export type LoopEvent =
  { type: 'delta'; text: string } | { type: 'tool_call'; id: string; name: string; arguments: string } | { type: 'tool_result'; id: string; name: string; ok: boolean } | { type: 'usage'; inputTokens: number; outputTokens: number };

export interface ToolTrace {
  name: string;
  arguments: string;
  ok: boolean;
}

export interface LoopResult {
  text: string;
  citations: Passage[];
  toolCalls: ToolTrace[];
  inputTokens: number;
  outputTokens: number;
  status: 'complete' | 'incomplete' | 'failed';
  stopReason: string | null;
  error?: { code: string; message: string };
}

export interface LoopInput {
  config: AgentConfig;
  messages: ChatMessage[];
  passages: Passage[];
  boundary: string;
  /** One model turn (the provider, possibly through the response cache). */
  stream: (request: ChatRequest) => AsyncIterable<ChatEvent>;
  tools: Omit<ToolContext, 'signal' | 'nextCitation' | 'config'>;
  signal: AbortSignal;
  emit: (event: LoopEvent) => void;
  /** Before each model turn (budget check); throwing AppError stops the loop. */
  beforeStep: () => Promise<void>;
  /** After each model turn that reported usage. */
  recordUsage: (inputTokens: number, outputTokens: number) => Promise<void>;
}

function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'cancelled';
}

export async function runAgentLoop(input: LoopInput): Promise<LoopResult> {
  const { config, signal } = input;
  const messages = [...input.messages];
  const passages = [...input.passages];
  const result: LoopResult = { text: '', citations: [], toolCalls: [], inputTokens: 0, outputTokens: 0, status: 'complete', stopReason: null };
  const tools = config.tools.map((name) => TOOL_SPECS[name]);
  let citation = passages.length;
  const toolContext: ToolContext = { ...input.tools, config, signal, nextCitation: () => ++citation };

  const stop = (status: LoopResult['status'], reason: string, error?: { code: string; message: string }) => {
    result.status = status;
    result.stopReason = reason;
    if (error) result.error = error;
  };

  try {
    for (let step = 1; ; step++) {
      if (step > config.limits.maxSteps) {
        stop('incomplete', 'max_steps');
        break;
      }
      const remaining = config.limits.maxTokens - result.inputTokens - result.outputTokens;
      if (remaining <= 0) {
        stop('incomplete', 'max_tokens');
        break;
      }
      await input.beforeStep();
      const calls: ToolCall[] = [];
      let stepText = '';
      let finish: string = 'stop';
      const request: ChatRequest = {
        model: config.model,
        messages,
        temperature: config.temperature,
        maxTokens: Math.min(config.maxOutputTokens, remaining),
        passages,
        signal,
        ...(tools.length > 0 ? { tools } : {}),
      };
      for await (const event of input.stream(request)) {
        if (event.type === 'delta') {
          if (result.text && !stepText && event.text) {
            result.text += '\n\n';
            input.emit({ type: 'delta', text: '\n\n' });
          }
          stepText += event.text;
          result.text += event.text;
          input.emit({ type: 'delta', text: event.text });
        } else if (event.type === 'tool_call') calls.push(event.call);
        else if (event.type === 'usage') {
          result.inputTokens += event.inputTokens;
          result.outputTokens += event.outputTokens;
          input.emit({ type: 'usage', inputTokens: event.inputTokens, outputTokens: event.outputTokens });
          await input.recordUsage(event.inputTokens, event.outputTokens);
        } else finish = event.finishReason;
      }
      if (calls.length === 0) {
        if (finish === 'length') stop('incomplete', 'max_output_tokens');
        break;
      }
      messages.push({ role: 'assistant', content: stepText, toolCalls: calls });
      for (const call of calls) {
        input.emit({ type: 'tool_call', id: call.id, name: call.name, arguments: call.arguments });
        const outcome = await runTool(call, toolContext);
        if (outcome.passages) passages.push(...outcome.passages);
        result.toolCalls.push({ name: call.name, arguments: call.arguments.slice(0, 2_000), ok: outcome.ok });
        input.emit({ type: 'tool_result', id: call.id, name: call.name, ok: outcome.ok });
        messages.push({ role: 'tool', toolCallId: call.id, name: call.name, content: wrapUntrusted(input.boundary, `tool ${call.name}`, outcome.content) });
      }
    }
  } catch (error) {
    const partial = result.text.length > 0 ? 'incomplete' : 'failed';
    if (signal.aborted) stop('incomplete', abortReason(signal));
    else if (error instanceof ProviderError) stop(partial, error.code, { code: error.code, message: error.message });
    else if (error instanceof AppError && error.code === 'budget_exhausted') stop(partial, 'budget_exhausted', { code: error.code, message: error.message });
    else if (error instanceof NetError && error.code === 'aborted') stop('incomplete', abortReason(signal));
    else throw error;
  }
  result.citations = passages.filter((p) => result.text.includes(`[${p.id}]`));
  return result;
}
