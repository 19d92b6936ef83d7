import { describe, expect, it } from 'vitest';
import { chunkText } from './chunk.js';
import { isReferencePage, joinHyphenated, referencePageToMarkdown } from './reference-page.js';

const PAGE = [
  'GZIP(1)                     General Commands Manual                     GZIP(1)',
  '',
  'NAME',
  '       gzip, gunzip, zcat - compress or expand files',
  '',
  'DESCRIPTION',
  '       The gzip command reduces the size of the named files. The following header is folded.',
  '       Whenever possible, each file is replaced by one with the extension .gz.',
  '',
  '       # a shell comment in the text',
  '',
  'OPTIONS',
  '       -k --keep',
  "              Keep (don't delete) input files during compression or decompression.",
  '',
  '       -l --list',
  '              For each compressed file, list the following fields:',
  '',
  '   Advanced options',
  '       --rsyncable',
  '              Make rsync-friendly archives.',
  '',
  '                                   local                                   GZIP(1)',
].join('\n');

describe('reference pages', () => {
  it('recognises a manual page by its title line or its sections, and nothing else', () => {
    expect(isReferencePage(PAGE)).toBe(true);
    expect(isReferencePage('NAME\n  x\nSYNOPSIS\n  y\nDESCRIPTION\n  z\n')).toBe(true);
    expect(isReferencePage('Meeting notes\n\nThe NAME of the project is undecided.\n')).toBe(false);
  });

  it('turns the page, its sections, subsections and defined terms into headings, never a sentence', () => {
    const markdown = referencePageToMarkdown(PAGE);
    const headings = markdown.split('\n').filter((line) => line.startsWith('#'));
    expect(headings).toEqual(['# gzip(1)', '## NAME', '## DESCRIPTION', '## OPTIONS', '### -k --keep', '### -l --list', '### Advanced options', '#### --rsyncable']);
    expect(markdown).toContain('\\# a shell comment');
    expect(markdown).not.toMatch(/local\s+GZIP\(1\)/u);
  });

  it('keeps each option with its description, packs short ones under their section, and keeps the heading path', () => {
    const chunks = chunkText(referencePageToMarkdown(PAGE), { maxTokens: 300, overlapTokens: 40 });
    const options = chunks.find((chunk) => chunk.heading === 'gzip(1) > OPTIONS');
    expect(options?.text).toBe("-k --keep\nKeep (don't delete) input files during compression or decompression.\n\n-l --list\nFor each compressed file, list the following fields:\n\nAdvanced options");
    // A lone short section keeps its own heading.
    expect(chunks.find((chunk) => chunk.text.includes('rsync-friendly'))?.heading).toBe('gzip(1) > OPTIONS > Advanced options > --rsyncable');
  });

  it('joins words broken at a line-end hyphen, not dashes or options', () => {
    expect(joinHyphenated('a partially-\n   downloaded file')).toBe('a partially-downloaded file');
    expect(joinHyphenated('use --\nkeep and well -\nknown')).toBe('use --\nkeep and well -\nknown');
  });
});
