/**
 * The structure of plain text laid out like a manual page ("GZIP(1) … GZIP(1)", sections in
 * capitals at the margin, subsections indented a little, options as a term line followed by
 * its description indented further), turned into the Markdown headings the chunker splits
 * on: the page, its sections, subsections and each defined term get a heading, so a chunk
 * is one option with its description and carries the path "gzip(1) > OPTIONS > -k --keep".
 * Other plain text only has its words broken at line-end hyphens joined again.
 */

const TITLE_LINE = /^(\S+)\((\d\w*)\)\s.*\s\1\(\2\)\s*$/u;
const SECTION = /^[A-Z][A-Z0-9 ,/&'()-]{1,40}$/u;

/**
 * A word broken at a line-end hyphen is made one again ("partially-\n   downloaded" →
 * "partially-downloaded"), not dashes or options ("--\n", " -\n"). The hyphen stays: it cannot
 * be told from a compound's, and full-text search indexes the parts of a hyphenated word too.
 */
export function joinHyphenated(text: string): string {
  return text.replace(/(\p{Ll})-\n[ \t]*(\p{Ll})/gu, '$1-$2');
}

const indentOf = (line: string) => line.length - line.trimStart().length;

/** Whether `text` is laid out as a manual page: its title line, or three section headings at the margin. */
export function isReferencePage(text: string): boolean {
  const lines = text.split('\n', 400);
  const first = lines.find((line) => line.trim() !== '');
  if (first && TITLE_LINE.test(first.trim())) return true;
  return lines.filter((line) => /^(NAME|SYNOPSIS|DESCRIPTION|OPTIONS)\s*$/u.test(line)).length >= 3;
}

/** The page as Markdown headings over its own text; the text itself is unchanged. */
export function referencePageToMarkdown(text: string): string {
  const lines = joinHyphenated(text.replaceAll('\r\n', '\n')).split('\n');
  const out: string[] = [];
  let start = 0;
  const first = lines.findIndex((line) => line.trim() !== '');
  const title = first >= 0 ? TITLE_LINE.exec(lines[first]!.trim()) : null;
  if (title) {
    out.push(`# ${title[1]!.toLowerCase()}(${title[2]})`, '');
    start = first + 1;
  }
  const level = title ? 2 : 1;
  // The body's margin: where the text under the first section starts (7 in man's output).
  const firstSection = lines.findIndex((line, i) => i >= start && SECTION.test(line));
  const body = firstSection >= 0 ? lines.slice(firstSection + 1).find((line) => line.trim() !== '') : undefined;
  const margin = body && indentOf(body) > 0 ? indentOf(body) : 7;
  // The page's footer repeats its title ("local   GZIP(1)"): left out.
  const last = lines.findLastIndex((line) => line.trim() !== '');
  const footer = title && last > first && lines[last]!.trim().endsWith(`${title[1]}(${title[2]})`) ? last : -1;

  let inSubsection = false;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    const indent = indentOf(line);
    if (trimmed === '' || i === footer) {
      out.push('');
      continue;
    }
    if (indent === 0 && SECTION.test(trimmed)) {
      out.push(`${'#'.repeat(level)} ${trimmed}`, '');
      inSubsection = false;
      continue;
    }
    if (indent > 0 && indent < margin && trimmed.length <= 60 && !/[.:;,]$/u.test(trimmed)) {
      out.push(`${'#'.repeat(level + 1)} ${trimmed}`, '');
      inSubsection = true;
      continue;
    }
    // A term: at the margin, short, not the end of a sentence, followed directly by lines indented further.
    const following = lines[i + 1];
    if (indent === margin && trimmed.length <= 80 && !/(?<!\.\.)[.:;,]$/u.test(trimmed) && following !== undefined && following.trim() !== '' && indentOf(following) > margin) {
      out.push('', `${'#'.repeat(level + (inSubsection ? 2 : 1))} ${trimmed}`, '');
      continue;
    }
    // Text of the page that starts with "#" (a shell comment) is not a heading.
    out.push(trimmed.replace(/^#/u, '\\#'));
  }
  return out
    .join('\n')
    .replace(/\n{3,}/gu, '\n\n')
    .trim();
}
