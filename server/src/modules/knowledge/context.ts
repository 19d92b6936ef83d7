/**
 * Passages as an answer reads them: each hit with the chunks on either side of it in its
 * document. An answer often sits just past a chunk's edge (the option after the heading
 * that matched, the end of a paragraph that began in the hit), so the model is given the
 * hit and its neighbours, and the citation shows the same text. Hits of one document that
 * touch or overlap become one passage, ranked where the better of them was, so no text is
 * sent twice. Chunks overlap (ingestion's overlapTokens): the repeated words are dropped
 * where two are joined.
 */
import type { Db } from '../../platform/db/database.js';
import { chunksAt } from './repo.js';

/** Chunks taken on each side of a hit. */
export const NEIGHBOURS = 1;
/** The most chunks one passage spans (hits merged into it included). */
export const MAX_PASSAGE_CHUNKS = 5;

/** What a hit needs here (retrieval's SearchHit has it). */
export interface ChunkInDocument {
  documentId: string;
  position: number;
  heading: string | null;
  text: string;
}

/** A hit whose text is its passage: first and last chunk position it spans (the hit's `position` lies within). */
export type ContextPassage<T extends ChunkInDocument> = T & { from: number; to: number };

interface Window<T extends ChunkInDocument = ChunkInDocument> {
  hit: T;
  from: number;
  to: number;
}

/** The hits, best first, widened by their neighbours; merged where they touch. */
export async function withNeighbours<T extends ChunkInDocument>(db: Db, workspaceId: string, hits: T[], neighbours = NEIGHBOURS): Promise<ContextPassage<T>[]> {
  if (hits.length === 0 || neighbours <= 0) return hits.map((hit) => ({ ...hit, from: hit.position, to: hit.position }));
  const windows: Window<T>[] = [];
  for (const hit of hits) {
    const same = windows.filter((w) => w.hit.documentId === hit.documentId);
    if (same.some((w) => w.from <= hit.position && hit.position <= w.to)) continue; // its text is in a better passage already
    const from = Math.max(0, hit.position - neighbours);
    const to = hit.position + neighbours;
    const touching = same.find((w) => from <= w.to + 1 && to >= w.from - 1);
    if (touching && Math.max(to, touching.to) - Math.min(from, touching.from) < MAX_PASSAGE_CHUNKS) {
      touching.from = Math.min(from, touching.from);
      touching.to = Math.max(to, touching.to);
      clip(touching, same);
      continue;
    }
    const window = { hit, from, to };
    clip(window, same);
    windows.push(window);
  }
  // The hits' own chunks are in hand: only the neighbours are read.
  const chunks = new Map<string, Pick<ChunkInDocument, 'heading' | 'text'>>(hits.map((hit) => [`${hit.documentId}/${hit.position}`, hit]));
  const wanted = windows.flatMap((w) => range(w.from, w.to).flatMap((position) => (chunks.has(`${w.hit.documentId}/${position}`) ? [] : [{ documentId: w.hit.documentId, position }])));
  for (const c of await chunksAt(db, workspaceId, wanted)) chunks.set(`${c.document_id}/${c.position}`, c);
  return windows.map(({ hit, from, to }) => {
    const parts = range(from, to).flatMap((position) => {
      const chunk = chunks.get(`${hit.documentId}/${position}`);
      return chunk ? [{ position, heading: chunk.heading, text: chunk.text }] : [];
    });
    let text = '';
    let heading = hit.heading;
    for (const part of parts) {
      // A neighbour under another heading says so, as the hit's own heading is said by the citation.
      const body = part.heading !== heading && part.heading ? `${part.heading}\n${part.text}` : part.text;
      heading = part.heading;
      text = text === '' ? body : joinOverlapping(text, body);
    }
    const covered = parts.map((p) => p.position);
    return { ...hit, text, from: Math.min(...covered), to: Math.max(...covered) };
  });
}

/** `a` then `b`, without the words `b` repeats from the end of `a` (chunk overlap). */
export function joinOverlapping(a: string, b: string): string {
  const probe = b.slice(0, 20);
  if (probe.length === 20) {
    // Candidates are where b's first words occur in a's tail, longest overlap first.
    for (let at = a.indexOf(probe, Math.max(0, a.length - 4_000)); at >= 0; at = a.indexOf(probe, at + 1)) {
      if (b.startsWith(a.slice(at))) return a + b.slice(a.length - at);
    }
  }
  return `${a}\n\n${b}`;
}

/** Narrows `window` so it shares no chunk with the others (each keeps its own hit): no text is sent twice. */
function clip(window: Window, others: Window[]): void {
  for (const other of others) {
    if (other === window) continue;
    if (other.to < window.hit.position) window.from = Math.max(window.from, other.to + 1);
    else if (other.from > window.hit.position) window.to = Math.min(window.to, other.from - 1);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
