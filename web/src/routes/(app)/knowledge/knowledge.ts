/** Shapes of the knowledge API (aliases of the OpenAPI document's types) and document uploads. */
import { upload } from '$lib/api';
import type { ApiResponse } from '$lib/api/types';

export type KnowledgeBase = ApiResponse<'/api/v1/knowledge-bases/{id}'>;

export type KnowledgeDocument = ApiResponse<'/api/v1/knowledge-bases/{id}/documents'>['documents'][number];

export type DocumentStatus = KnowledgeDocument['status'];

export type SearchHit = ApiResponse<'/api/v1/knowledge-bases/{id}/search', 'post'>['results'][number];

export const FINAL: ReadonlySet<DocumentStatus> = new Set(['ready', 'failed', 'quarantined']);

export const STATUS: Record<DocumentStatus, { label: string; tone: 'ok' | 'busy' | 'bad' | 'neutral' }> = {
  pending: { label: 'Pending', tone: 'neutral' },
  scanning: { label: 'Scanning', tone: 'busy' },
  processing: { label: 'Processing', tone: 'busy' },
  ready: { label: 'Ready', tone: 'ok' },
  failed: { label: 'Failed', tone: 'bad' },
  quarantined: { label: 'Quarantined', tone: 'bad' },
};

/** Uploads one file as the multipart part "file", reporting progress; resolves with the document (202), rejects with ApiError. */
export async function uploadDocument(baseId: string, file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<KnowledgeDocument> {
  const form = new FormData();
  form.append('file', file, file.name);
  return upload<ApiResponse<'/api/v1/knowledge-bases/{id}/documents', 'post', 202>>(`/knowledge-bases/${baseId}/documents`, form, { onProgress, ...(signal ? { signal } : {}) });
}
