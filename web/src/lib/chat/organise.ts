/**
 * The rules of the organised conversation list, free of the DOM: the Pinned and Recent
 * groups, the filter, which conversation Alt+Arrow moves to, which key is which shortcut,
 * and the name of a downloaded export.
 */

export interface Listed {
  id: string;
  title: string | null;
  pinned: boolean;
  updatedAt: string;
}

/** The untitled conversation's name in the list. */
export const UNTITLED = 'New conversation';

const byActivity = (a: Listed, b: Listed): number => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0);

/** Pinned conversations, then the others, each most recent first; only titles containing `filter` (case-insensitive). */
export function groupConversations<T extends Listed>(conversations: readonly T[], filter = ''): { pinned: T[]; recent: T[] } {
  const needle = filter.trim().toLocaleLowerCase();
  const shown = needle ? conversations.filter((c) => (c.title ?? UNTITLED).toLocaleLowerCase().includes(needle)) : [...conversations];
  shown.sort(byActivity);
  return { pinned: shown.filter((c) => c.pinned), recent: shown.filter((c) => !c.pinned) };
}

/**
 * The conversation `step` places from `current` in the list as shown (no wrapping); from
 * outside the list (a new chat), down starts at the first and up at the last.
 */
export function neighbour(order: readonly string[], current: string | undefined, step: 1 | -1): string | undefined {
  if (order.length === 0) return undefined;
  const at = current === undefined ? -1 : order.indexOf(current);
  if (at === -1) return step === 1 ? order[0] : order.at(-1);
  return order[Math.min(order.length - 1, Math.max(0, at + step))];
}

export type Shortcut = 'new' | 'search' | 'next' | 'previous' | 'help';

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  /** The key went to a text field (input, textarea, select, contenteditable). */
  typing: boolean;
}

/**
 * The chat shortcut a key press means, or null. Those with Ctrl/⌘ or Alt work while typing;
 * the single keys (`/`, `?`) only outside text fields, where they cannot be meant as text.
 */
export function shortcutOf(press: KeyPress): Shortcut | null {
  const command = press.ctrlKey || press.metaKey;
  if (command && press.shiftKey && !press.altKey && press.key.toLowerCase() === 'o') return 'new';
  if (command && !press.shiftKey && !press.altKey && press.key.toLowerCase() === 'k') return 'search';
  if (press.altKey && !command && !press.shiftKey && press.key === 'ArrowDown') return 'next';
  if (press.altKey && !command && !press.shiftKey && press.key === 'ArrowUp') return 'previous';
  if (press.typing || command || press.altKey) return null;
  if (press.key === '/') return 'search';
  if (press.key === '?') return 'help';
  return null;
}

/** The shortcuts as the help dialog lists them (⌘ stands for Ctrl on a Mac). */
export const SHORTCUTS: { keys: string[][]; action: string }[] = [
  { keys: [['Ctrl', 'Shift', 'O']], action: 'New conversation' },
  { keys: [['Ctrl', 'K'], ['/']], action: 'Search conversations' },
  { keys: [['Alt', '↓']], action: 'Next conversation' },
  { keys: [['Alt', '↑']], action: 'Previous conversation' },
  { keys: [['?']], action: 'Show these shortcuts' },
];

/** The file name in a Content-Disposition header, or `fallback`. */
export function attachmentName(header: string | null, fallback: string): string {
  const name = /filename="([^"\\/]+)"/.exec(header ?? '')?.[1];
  return name && !name.startsWith('.') ? name : fallback;
}
