import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

/**
 * What the docs say, as the tests that hold docs and code in step read it: README.md and every
 * page of docs/, one text. A section may move between them without its test changing.
 */
export const DOCS_TEXT: string = [
  readFileSync(join(ROOT, 'README.md'), 'utf8'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => readFileSync(join(ROOT, 'docs', name), 'utf8')),
].join('\n');

/** The text under a "## " heading of the docs, up to the next one. */
export function docsSection(heading: string): string {
  const lines = DOCS_TEXT.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  assert.notEqual(start, -1, `neither README.md nor docs/ has a "## ${heading}" section`);
  // The next "## " heading, or a page's "# " title (a line of a code block is neither).
  let fenced = false;
  let end = lines.length;
  for (let index = start + 1; index < lines.length; index++) {
    if (lines[index].startsWith('```')) fenced = !fenced;
    else if (!fenced && /^#{1,2} /.test(lines[index])) {
      end = index;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}
