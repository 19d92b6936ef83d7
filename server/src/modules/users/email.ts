/** Email addresses are compared in one canonical form: NFKC, trimmed, lower-cased. */
export function normalizeEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
