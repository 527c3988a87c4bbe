/**
 * Every relative link of the docs leads somewhere: its file exists, and its anchor is a heading
 * of that page as GitHub names it. A section renamed or moved between pages left links pointing
 * at nothing, which no reader of the rendered page is told (GitHub scrolls to the top).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');

/** The pages walked: the README, the changelog, every page of docs/ and the bench's README. */
const PAGES = [
  'README.md',
  'CHANGELOG.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** A page's lines outside fenced code blocks, inline code spans blanked (a link shown as code is no link). */
function prose(text: string): string[] {
  let fenced = false;
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    else if (!fenced) lines.push(line.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length)));
  }
  return lines;
}

/**
 * The anchors GitHub gives a page's headings: the heading's text without its markup, lower-cased,
 * punctuation dropped (but `-` and `_`), each space a `-`; a repeated one gets `-1`, `-2`….
 */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (heading === null) continue;
    const slug = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

const anchorCache = new Map<string, Set<string>>();
function anchorsIn(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors === undefined) {
    anchors = anchorsOf(readFileSync(file, 'utf8'));
    anchorCache.set(file, anchors);
  }
  return anchors;
}

test('every relative link of README, CHANGELOG, docs/ and bench/README leads to a file, and its anchor to a heading of it', () => {
  const broken: string[] = [];
  let links = 0;
  for (const page of PAGES) {
    const file = join(ROOT, page);
    for (const [index, line] of prose(readFileSync(file, 'utf8')).entries())
      for (const match of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        links++;
        const [path, anchor] = target.split('#', 2);
        const to = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        const where = `${page}:${index + 1} (${target})`;
        if (!existsSync(to)) {
          broken.push(`${where}: no ${relative(ROOT, to)}`);
          continue;
        }
        if (anchor === undefined || anchor === '' || !to.endsWith('.md') || statSync(to).isDirectory())
          continue;
        if (!anchorsIn(to).has(decodeURIComponent(anchor)))
          broken.push(`${where}: no heading of ${relative(ROOT, to)} is #${anchor}`);
      }
  }
  assert.ok(links > 200, `only ${links} links read: the walk missed them`);
  assert.deepEqual(broken, []);
});
