/**
 * Unsent messages, per conversation, in this tab's sessionStorage: typing survives a reload
 * and the detour through sign-in when the session ended meanwhile. Cleared once sent, and
 * all of them on sign-out (a shared computer keeps nothing).
 */
const PREFIX = 'bastion.draft:';

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled
  }
}

export function loadDraft(key: string): string {
  return storage()?.getItem(PREFIX + key) ?? '';
}

export function saveDraft(key: string, text: string): void {
  const store = storage();
  if (!store) return;
  try {
    if (text.trim()) store.setItem(PREFIX + key, text);
    else store.removeItem(PREFIX + key);
  } catch {
    // quota: the draft lasts for this page only
  }
}

export function clearDrafts(): void {
  const store = storage();
  if (!store) return;
  for (const key of Object.keys(store)) if (key.startsWith(PREFIX)) store.removeItem(key);
}
