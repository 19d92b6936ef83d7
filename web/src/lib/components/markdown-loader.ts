/** The Markdown pipeline on demand: one dynamic import shared by every component that renders Markdown. */
type MarkdownModule = typeof import('$lib/markdown');

let loading: Promise<MarkdownModule> | null = null;

export function loadMarkdown(): Promise<MarkdownModule> {
  loading ??= import('$lib/markdown').catch((error: unknown) => {
    loading = null; // a failed chunk load (e.g. during a deploy) can be tried again
    throw error;
  });
  return loading;
}
