/**
 * An OpenAI chat request as an agent's input. The agent's own system prompt always comes
 * first; the caller's system (and developer) messages are added after it as further
 * instructions (many tools always send one, so refusing them would lock those tools out,
 * and the caller could write the same in a user message). User and assistant messages
 * become the history, the last one being the user's question. Whatever would change what
 * the answer means — several choices, the caller's own tools, log probabilities, a JSON
 * response format, non-text content — is refused with a 400 naming the parameter.
 */
import { AppError } from '../../errors.js';
import type { CompletionRequest } from '../chat/completion.js';
import type { HistoryMessage } from '../chat/prompt.js';
import type { ChatCompletionBody } from './schema.js';

/** The caller's instructions, all system messages together: as long as an agent's own system prompt may be. */
export const MAX_INSTRUCTIONS_CHARS = 20_000;

export interface AgentInput {
  request: CompletionRequest;
  /** Whether the answer streams (for the audit entry; the route reads the body itself). */
  stream: boolean;
}

function refuse(path: string, message: string): AppError {
  return new AppError('validation_failed', message, [{ path: `body.${path}`, message }]);
}

const TOOLS_REFUSED = 'Tools and functions from the caller are not supported: the agent runs its own tools (set them on the agent).';

type Content = ChatCompletionBody['messages'][number]['content'];

/** The text of a message's content; non-text parts are refused. */
function textOf(content: Content, path: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, index) => {
      if (part.type !== 'text') throw refuse(`${path}.${index}.type`, `Only text content is supported, not "${part.type.slice(0, 50)}" parts.`);
      return part.text ?? '';
    })
    .join('\n');
}

/** Checks the request's parameters and maps its messages; throws 400 validation_failed naming the parameter. */
export function toAgentInput(body: ChatCompletionBody): AgentInput {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw refuse('n', 'Only one choice per request is supported: n must be 1.');
  if (body.tools && body.tools.length > 0) throw refuse('tools', TOOLS_REFUSED);
  if (body.functions && body.functions.length > 0) throw refuse('functions', TOOLS_REFUSED);
  if (body.logprobs === true) throw refuse('logprobs', 'Log probabilities are not available from agents: leave logprobs out.');
  if (body.response_format && body.response_format.type !== 'text') {
    throw refuse('response_format', 'Only the text response format is supported; ask for JSON in the message instead.');
  }
  const history: HistoryMessage[] = [];
  const instructions: string[] = [];
  body.messages.forEach((message, index) => {
    const path = `messages.${index}`;
    const text = textOf(message.content, `${path}.content`);
    switch (message.role) {
      case 'system':
      case 'developer':
        if (text.trim()) instructions.push(text.trim());
        return;
      case 'user':
        if (!text.trim()) throw refuse(`${path}.content`, 'A user message needs some text.');
        history.push({ role: 'user', text });
        return;
      case 'assistant':
        if (message.tool_calls && message.tool_calls.length > 0) throw refuse(`${path}.tool_calls`, TOOLS_REFUSED);
        if (text.trim()) history.push({ role: 'assistant', text });
        return;
      case 'tool':
      case 'function':
        throw refuse(`${path}.role`, TOOLS_REFUSED);
      default:
        throw refuse(`${path}.role`, 'role must be system, developer, user or assistant.');
    }
  });
  if (body.messages.at(-1)?.role !== 'user') throw refuse('messages', 'The last message must be the user’s (role "user"): the agent answers it.');
  const joined = instructions.join('\n\n');
  if (joined.length > MAX_INSTRUCTIONS_CHARS) throw refuse('messages', `System messages may hold at most ${MAX_INSTRUCTIONS_CHARS} characters together.`);
  const caps = [body.max_tokens, body.max_completion_tokens].filter((cap): cap is number => typeof cap === 'number');
  return {
    request: { history, instructions: joined || undefined, maxOutputTokens: caps.length > 0 ? Math.min(...caps) : undefined },
    stream: body.stream === true,
  };
}
