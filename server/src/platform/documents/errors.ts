/** Why a document was refused; `message` is safe to show a person. */
export type DocumentErrorCode = 'empty_file' | 'unsupported_type' | 'type_mismatch' | 'invalid_filename' | 'archive_limits' | 'path_traversal' | 'xml_entities' | 'encrypted' | 'parse_timeout' | 'parse_failed' | 'too_large';

export class DocumentError extends Error {
  override name = 'DocumentError';
  constructor(
    readonly code: DocumentErrorCode,
    message: string,
  ) {
    super(message);
  }
}
