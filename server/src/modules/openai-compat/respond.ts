/**
 * Answers a chat completion as one JSON `chat.completion`, or streamed as OpenAI's
 * Server-Sent Events: `data: {chat.completion.chunk}` frames (the first with
 * `delta.role`, then `delta.content` pieces, then an empty delta with `finish_reason`),
 * a usage chunk when `stream_options.include_usage`, then `data: [DONE]`.
 *
 * The stream opens at the first token, so a refusal or an answer that failed before any
 * text (402 budget, 404 model, a provider failure) is an ordinary HTTP error a client
 * raises as such; a failure after the stream opened becomes a `data: {"error": …}` frame,
 * which OpenAI clients raise too. A client that goes away aborts the answer (the provider
 * call included), as the chat's stop button does.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { openAiErrorBody } from '../../http/openai-errors.js';
import type { Completion, CompletionOptions } from '../chat/completion.js';
import { openFrameStream, type FrameStream } from '../chat/sse.js';
import type { ChatCompletion } from './schema.js';
import { completionView, deltaFrame, DONE_FRAME, failureOf, finishFrame, usageFrame, type CompletionMeta } from './views.js';

type Run = (options: CompletionOptions) => Promise<Completion>;

/** A signal that aborts with 'disconnected' when the client goes away before the answer is sent. */
function disconnectSignal(reply: FastifyReply): AbortSignal {
  const disconnect = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) disconnect.abort('disconnected');
  });
  return disconnect.signal;
}

/** The whole answer as one `chat.completion`; a failed answer throws its error. */
export async function respondJson(reply: FastifyReply, meta: CompletionMeta, run: Run): Promise<ChatCompletion> {
  const outcome = await run({ signal: disconnectSignal(reply) });
  const failure = failureOf(outcome.result);
  if (failure) throw failure;
  return completionView(meta, outcome);
}

export async function respondStream(request: FastifyRequest, reply: FastifyReply, meta: CompletionMeta, includeUsage: boolean, run: Run): Promise<void> {
  let stream: FrameStream | null = null;
  const open = (): FrameStream => {
    if (!stream) {
      stream = openFrameStream(reply);
      stream.write(deltaFrame(meta, { role: 'assistant', content: '' }, includeUsage), true);
    }
    return stream;
  };
  try {
    const outcome = await run({
      signal: disconnectSignal(reply),
      emit: (event) => {
        if (event.type !== 'delta' || event.text === '') return;
        const first = stream === null;
        // The first token goes out at once (time to first token); the following ones may be coalesced.
        open().write(deltaFrame(meta, { content: event.text }, includeUsage), first);
      },
    });
    const failure = failureOf(outcome.result);
    if (failure && !stream) throw failure;
    const frames = open();
    if (failure) {
      request.log.warn({ code: failure.code }, 'completion stream ended with an error');
      frames.write(errorFrame(request, failure));
    } else {
      frames.write(finishFrame(meta, outcome, includeUsage));
      if (includeUsage) frames.write(usageFrame(meta, outcome));
    }
    frames.write(DONE_FRAME);
    frames.end();
  } catch (error) {
    if (!stream) throw error;
    // The stream is open: the failure becomes its last frame, in the shape of an error answer.
    if (!(error instanceof AppError)) request.log.error({ err: error }, 'completion stream failed');
    const frames = stream as FrameStream;
    frames.write(errorFrame(request, error instanceof AppError ? error : new AppError('internal_error', 'The answer failed; try again.')));
    frames.write(DONE_FRAME);
    frames.end();
  }
}

function errorFrame(request: FastifyRequest, error: AppError): string {
  return `data: ${JSON.stringify(openAiErrorBody(request, error))}\n\n`;
}
