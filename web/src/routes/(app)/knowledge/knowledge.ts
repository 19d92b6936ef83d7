/** Shapes of the knowledge API (server/src/modules/knowledge/routes.ts) and upload with progress. */
import { API, api, ApiError, currentWorkspace } from '$lib/api';

export interface KnowledgeBase {
  id: string;
  name: string;
  description: string;
  embedding: { connectionId: string; model: string } | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type DocumentStatus = 'pending' | 'scanning' | 'processing' | 'ready' | 'failed' | 'quarantined';

export interface KnowledgeDocument {
  id: string;
  filename: string;
  kind: string;
  source: 'upload' | 'url';
  sourceUrl: string | null;
  sizeBytes: number;
  status: DocumentStatus;
  error: { code: string; message: string } | null;
  title: string | null;
  chunkCount: number;
  createdAt: string;
}

export interface SearchHit {
  documentId: string;
  chunkId: string;
  filename: string;
  title: string | null;
  position: number;
  heading: string | null;
  text: string;
  score: number;
}

export const FINAL: ReadonlySet<DocumentStatus> = new Set(['ready', 'failed', 'quarantined']);

export const STATUS: Record<DocumentStatus, { label: string; tone: 'ok' | 'busy' | 'bad' | 'neutral' }> = {
  pending: { label: 'Pending', tone: 'neutral' },
  scanning: { label: 'Scanning', tone: 'busy' },
  processing: { label: 'Processing', tone: 'busy' },
  ready: { label: 'Ready', tone: 'ok' },
  failed: { label: 'Failed', tone: 'bad' },
  quarantined: { label: 'Quarantined', tone: 'bad' },
};

/**
 * Uploads one file as the multipart part "file" with XMLHttpRequest, the only browser
 * API that reports upload progress. Same headers as $lib/api: the session's CSRF token
 * and X-Workspace-Id. Resolves with the document (202), rejects with ApiError.
 */
export async function uploadDocument(baseId: string, file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<KnowledgeDocument> {
  const { token } = await api.get<{ token: string }>('/auth/csrf');
  const form = new FormData();
  form.append('file', file, file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API}/knowledge-bases/${baseId}/documents`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('accept', 'application/json');
    xhr.setRequestHeader('x-csrf-token', token);
    const workspace = currentWorkspace();
    if (workspace) xhr.setRequestHeader('x-workspace-id', workspace);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string } } & Partial<KnowledgeDocument> = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as KnowledgeDocument);
      else reject(new ApiError(xhr.status, body.error?.code ?? `http_${xhr.status}`, body.error?.message ?? `The server answered ${xhr.status}.`));
    };
    xhr.onerror = () => reject(new TypeError('network error'));
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
