/**
 * The sidebar's search in message text: asks the server a moment after typing stops, and
 * only the answer to the latest query is ever shown (earlier requests are aborted, and a
 * late answer to one is dropped).
 */
import { api, errorMessage } from '$lib/api';
import { SEARCH_MIN_CHARS, type SearchHit, type SearchResponse } from './search';

const DEBOUNCE_MS = 250;

export class MessageSearch {
  /** null: no search (the query is too short). */
  hits = $state<SearchHit[] | null>(null);
  /** A query is waiting for its debounce or its answer; `hits` are still the previous query's. */
  searching = $state(false);
  error = $state<string | null>(null);
  private query = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | undefined;

  /** The box's text changed: search it soon, or clear the results when it is too short. */
  set(text: string): void {
    const query = text.trim();
    if (query === this.query) return;
    this.query = query;
    this.cancel();
    this.error = null;
    if (query.length < SEARCH_MIN_CHARS) {
      this.hits = null;
      this.searching = false;
      return;
    }
    this.searching = true;
    this.timer = setTimeout(() => void this.run(query), DEBOUNCE_MS);
  }

  /** Asks again for the current query (new messages are indexed a moment after they are written). */
  refresh(): void {
    if (this.query.length < SEARCH_MIN_CHARS) return;
    this.cancel();
    void this.run(this.query);
  }

  /** Stops the pending search, if any (the list is leaving the page). */
  dispose(): void {
    this.cancel();
    this.searching = false;
  }

  /** Forgets the timer and the request in flight; their answers can no longer land. */
  private cancel(): void {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = undefined;
  }

  private async run(query: string): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    this.searching = true;
    try {
      const found = await api.get<SearchResponse>(`/conversations/search?q=${encodeURIComponent(query)}&limit=20`, { signal: controller.signal });
      if (controller !== this.controller) return;
      this.hits = found.results;
      this.error = null;
    } catch (e) {
      if (controller !== this.controller) return;
      this.hits = [];
      this.error = errorMessage(e);
    } finally {
      if (controller === this.controller) this.searching = false;
    }
  }
}
