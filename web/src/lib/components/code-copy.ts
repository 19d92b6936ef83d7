/**
 * The Copy button of a rendered code block (markdown-blocks.ts draws it with a marker
 * attribute; Markdown.svelte delegates clicks here). It copies the code as text — what the
 * block shows, not its highlighted HTML — and says how it went on the button.
 */

/**
 * The selector of a Copy button, for delegated click handling: the marker is
 * `COPY_MARKER` of $lib/markdown-blocks, spelled out here so that the lazily loaded
 * pipeline is not pulled into the page's bundle for one string (code-copy.test.ts proves they agree).
 */
export const COPY_BUTTON = 'button[data-copy-code]';

/** How long the button says "Copied" (or "Copy failed") before it reads "Copy" again. */
export const FEEDBACK_MS = 2000;

export type CopyResult = 'copied' | 'failed';

/** The code of the block a Copy button belongs to, as written (the final line break dropped), or null. */
export function codeOf(button: Element): string | null {
  const pre = button.closest('.code-block')?.querySelector('pre');
  return pre ? (pre.textContent ?? '').replace(/\n$/, '') : null;
}

/** Selects the block's code, so it can be copied by hand when the clipboard refuses. */
function selectCode(button: Element): void {
  const pre = button.closest('.code-block')?.querySelector('pre');
  const selection = window.getSelection();
  if (!pre || !selection) return;
  const range = document.createRange();
  range.selectNodeContents(pre);
  selection.removeAllRanges();
  selection.addRange(range);
}

/**
 * Copies the block's code with the Clipboard API and shows the outcome on the button for
 * FEEDBACK_MS. On refusal (no permission, no secure context) the code is selected instead.
 */
export async function copyCode(button: HTMLButtonElement, clipboard: Pick<Clipboard, 'writeText'> | undefined = navigator.clipboard): Promise<CopyResult> {
  const code = codeOf(button);
  let result: CopyResult = 'failed';
  if (code !== null && clipboard) {
    try {
      await clipboard.writeText(code);
      result = 'copied';
    } catch {
      // Refused: fall through to selecting the code.
    }
  }
  if (result === 'failed') selectCode(button);
  button.textContent = result === 'copied' ? 'Copied' : 'Copy failed';
  button.dataset.copyState = result;
  setTimeout(() => {
    button.textContent = 'Copy';
    delete button.dataset.copyState;
  }, FEEDBACK_MS);
  return result;
}
