/**
 * The parts of a rendered answer that are more than text, added to the sanitised fragment
 * with DOM calls (never parsed from HTML, so nothing of the source can become markup here):
 * a header above each code block with its language and a Copy button, a scrolling wrapper
 * around each table, and the box of each task list item.
 *
 * The Copy button carries only a marker attribute (`data-copy-code`): Markdown.svelte gives
 * it its behaviour through one delegated click listener; no handler is in the HTML.
 */

/** The marker of a Copy button: `button[data-copy-code]` inside a `.code-block`. */
export const COPY_MARKER = 'data-copy-code';

/** Adds code block headers, table wrappers and task boxes to a sanitised fragment. */
export function decorateBlocks(fragment: DocumentFragment): void {
  for (const table of fragment.querySelectorAll('table')) wrapTable(table);
  for (const pre of fragment.querySelectorAll('pre')) wrapCode(pre);
  for (const item of fragment.querySelectorAll<HTMLLIElement>('li.task-done, li.task-open')) addTaskBox(item);
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A wide table scrolls sideways inside its wrapper instead of widening the page. The wrapper
 * (like a code block's <pre>) is in the tab order, so the keyboard can scroll it too.
 */
function wrapTable(table: HTMLTableElement): void {
  const wrapper = element('div', 'table-scroll');
  wrapper.tabIndex = 0;
  table.replaceWith(wrapper);
  wrapper.append(table);
}

/** <pre> → <div class="code-block" role="group"><div class="code-head">language, Copy</div><pre>…</pre></div>. */
function wrapCode(pre: HTMLPreElement): void {
  // The language comes from the class the sanitiser let through (language-[\w+#.-]+), shown as text.
  const language = /(?:^|\s)language-(\S+)/.exec(pre.querySelector('code')?.className ?? '')?.[1] ?? null;
  const block = element('div', 'code-block');
  block.setAttribute('role', 'group');
  block.setAttribute('aria-label', language ? `${language} code` : 'Code');
  const head = element('div', 'code-head');
  const label = element('span', 'code-lang', language ?? 'code');
  label.setAttribute('aria-hidden', 'true'); // the group's name says it already
  const copy = element('button', 'code-copy', 'Copy');
  copy.type = 'button';
  copy.setAttribute(COPY_MARKER, '');
  head.append(label, copy);
  pre.tabIndex = 0; // long lines scroll inside it: reachable by keyboard
  pre.replaceWith(block);
  block.append(head, pre);
}

/** A drawn box (no form control in an answer) and its state as text for screen readers. */
function addTaskBox(item: HTMLLIElement): void {
  const done = item.classList.contains('task-done');
  const box = element('span', done ? 'task-box done' : 'task-box');
  box.setAttribute('aria-hidden', 'true');
  const state = element('span', 'visually-hidden', done ? 'Done: ' : 'To do: ');
  // In a loose list the text is in a paragraph: the box goes at its start, not above it.
  const target = item.firstChild?.nodeName === 'P' ? (item.firstChild as HTMLParagraphElement) : item;
  target.prepend(box, state);
}
