/** Knowledge: how documents arrive, what they are and where they stand in the ingestion pipeline. */

export const DOCUMENT_SOURCES = ['upload', 'url'] as const;
export type DocumentSource = (typeof DOCUMENT_SOURCES)[number];

export const DOCUMENT_KINDS = ['txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json'] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** The pipeline moves a document forward only: pending → scanning → processing → ready (or failed / quarantined). */
export const DOCUMENT_STATUSES = ['pending', 'scanning', 'processing', 'ready', 'failed', 'quarantined'] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];
