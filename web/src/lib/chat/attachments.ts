/** Files attached to a conversation (POST/GET/DELETE /conversations/:id/attachments). */
import { api, upload } from '$lib/api';
import type { ApiResponse } from '$lib/api/types';

export type Attachment = ApiResponse<'/api/v1/conversations/{id}/attachments'>['attachments'][number];

/** States after which the status no longer changes by itself. */
export const SETTLED: ReadonlySet<Attachment['status']> = new Set(['ready', 'failed', 'quarantined']);

export function listAttachments(conversationId: string): Promise<Attachment[]> {
  return api.get<ApiResponse<'/api/v1/conversations/{id}/attachments'>>(`/conversations/${conversationId}/attachments`).then((r) => r.attachments);
}

/** Sends one file as the multipart part "file"; resolves with the attachment (202), rejects with ApiError. */
export function attachFile(conversationId: string, file: File): Promise<Attachment> {
  const form = new FormData();
  form.append('file', file, file.name);
  return upload<ApiResponse<'/api/v1/conversations/{id}/attachments', 'post', 202>>(`/conversations/${conversationId}/attachments`, form);
}

export function removeAttachment(conversationId: string, id: string): Promise<unknown> {
  return api.delete(`/conversations/${conversationId}/attachments/${id}`);
}
