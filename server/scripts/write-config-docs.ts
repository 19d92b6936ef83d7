/**
 * Regenerates `.env.example` and the README's variable table from the config schema.
 * Run with `npm run config:docs` after adding or changing a variable.
 */
import fs from 'node:fs';
import { renderEnvExample, renderVariableTable } from '../src/config/docs.js';

const root = new URL('../../', import.meta.url);
const START = '<!-- config:start -->\n';
const END = '<!-- config:end -->';

fs.writeFileSync(new URL('.env.example', root), renderEnvExample());
const readmeUrl = new URL('README.md', root);
const readme = fs.readFileSync(readmeUrl, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from === -1 || to === -1) throw new Error(`README.md must contain ${START.trim()} and ${END}`);
fs.writeFileSync(readmeUrl, readme.slice(0, from + START.length) + renderVariableTable() + readme.slice(to));
console.log('Wrote .env.example and the README variable table.');
