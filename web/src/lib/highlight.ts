/**
 * Syntax highlighting for fenced code blocks: highlight.js core with a fixed set of common
 * languages registered one by one (no auto-detection, no language loaded at run time).
 * Its output is `<span class="hljs-…">` around escaped text; $lib/markdown passes it
 * through the same DOMPurify allowlist as everything else (spans keep `hljs-` classes only).
 *
 * Heavy: loaded on demand (markdown-loader.ts `loadHighlighter`) only when an answer has a
 * fenced code block with a language, never in the initial chat bundle.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shellSession from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

/** Longer code is shown plain: highlighting it would block the page for too long. */
export const MAX_HIGHLIGHT_CHARS = 50_000;

// An instance of our own: nothing else registers languages or plugins on it.
const engine = hljs.newInstance();
// highlight.js's "shell" is a console session ($ prompts, output); models mean a script by it.
const LANGUAGES = { bash, c, cpp, css, diff, go, java, javascript, json, markdown, python, rust, shellsession: shellSession, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) engine.registerLanguage(name, language);
// Each definition brings its own aliases (js, ts, py, sh, yml, html, c++, …); a few more that models write.
engine.registerAliases(['shell', 'shell-script'], { languageName: 'bash' });
engine.registerAliases(['terminal'], { languageName: 'shellsession' });
engine.registerAliases(['postgres', 'postgresql', 'sqlite'], { languageName: 'sql' });

/**
 * Code → highlighted HTML (spans with `hljs-` classes around escaped text), or null when
 * the language is not registered or the code is too long: the caller shows it plain.
 */
export function highlightCode(code: string, language: string): string | null {
  if (code.length > MAX_HIGHLIGHT_CHARS || !engine.getLanguage(language)) return null;
  try {
    return engine.highlight(code, { language, ignoreIllegals: true }).value;
  } catch {
    return null; // a grammar that trips on odd input: plain text is still correct
  }
}
