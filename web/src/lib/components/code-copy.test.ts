// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { highlightCode } from '$lib/highlight';
import { renderMarkdown } from '$lib/markdown';
import { COPY_MARKER } from '$lib/markdown-blocks';
import { codeOf, COPY_BUTTON, copyCode, FEEDBACK_MS } from './code-copy';

const CODE = 'def greet(name):\n    return f"<b>{name}</b>"  # & more';

function mount(source: string): HTMLButtonElement {
  document.body.innerHTML = `<div>${renderMarkdown(source, { highlight: highlightCode })}</div>`;
  return document.querySelector<HTMLButtonElement>(COPY_BUTTON)!;
}

afterEach(() => {
  vi.useRealTimers();
  document.body.innerHTML = '';
});

describe('copyCode', () => {
  it('finds the buttons the pipeline marks', () => {
    expect(COPY_BUTTON).toBe(`button[${COPY_MARKER}]`);
  });

  it('copies the code as written, not the highlighted HTML, and says so for a while', async () => {
    vi.useFakeTimers();
    const button = mount(`Here:\n\n\`\`\`python\n${CODE}\n\`\`\``);
    expect(document.querySelector('pre span.hljs-keyword'), 'highlighted').not.toBeNull();
    const writeText = vi.fn(() => Promise.resolve());
    expect(await copyCode(button, { writeText })).toBe('copied');
    expect(writeText).toHaveBeenCalledWith(CODE);
    expect(button.textContent).toBe('Copied');
    expect(button.dataset.copyState).toBe('copied');
    vi.advanceTimersByTime(FEEDBACK_MS);
    expect(button.textContent).toBe('Copy');
    expect(button.dataset.copyState).toBeUndefined();
  });

  it('copies the block the button belongs to', () => {
    document.body.innerHTML = renderMarkdown('```js\nfirst()\n```\n\n```\nsecond\n```');
    const buttons = [...document.querySelectorAll(COPY_BUTTON)];
    expect(buttons.map((b) => codeOf(b))).toEqual(['first()', 'second']);
  });

  it('selects the code when the clipboard refuses', async () => {
    const button = mount('```bash\necho hi\n```');
    const writeText = vi.fn(() => Promise.reject(new DOMException('denied', 'NotAllowedError')));
    expect(await copyCode(button, { writeText })).toBe('failed');
    expect(button.textContent).toBe('Copy failed');
    expect(window.getSelection()?.toString()).toBe('echo hi\n');
    expect(await copyCode(button, undefined)).toBe('failed');
  });
});
