/**
 * The README's "Use it as a library" section cannot drift from the package: its exports table
 * names exactly what `candor` exports, its list of public entry points is package.json's, and
 * its table of ways out names the Gateway's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as candor from '../../src/index.ts';
import { DOCS_TEXT, docsSection } from '../helpers/docs-text.ts';

const ROOT = join(import.meta.dirname, '../..');
const INDEX = readFileSync(join(ROOT, 'src/index.ts'), 'utf8');
const GATEWAY = readFileSync(join(ROOT, 'src/server/gateway/gateway.ts'), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

const lines = DOCS_TEXT.split('\n');
const SECTION = docsSection('Use it as a library').split('\n');

/** The first cells of the table whose header row starts with `| first |`. */
function firstCells(first: string): string[] {
  const at = SECTION.findIndex((line) => line.startsWith(`| ${first} |`));
  assert.notEqual(at, -1, `the library section has a table starting "| ${first} |"`);
  const cells: string[] = [];
  for (const line of SECTION.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    cells.push(line.split('|')[1].trim());
  }
  return cells;
}

/** `startGateway(config, options?)` → startGateway */
const nameOf = (cell: string) => /^`([A-Za-z]+)/.exec(cell)?.[1] ?? cell;

test("the exports table names every value 'candor' exports, and nothing else", () => {
  const documented = firstCells('export')
    .filter((cell) => cell !== 'types')
    .map(nameOf)
    .sort();
  assert.deepEqual(documented, Object.keys(candor).sort());
});

test("the exports table's types row names every type src/index.ts exports by name", () => {
  const row = SECTION.find((line) => line.startsWith('| types |'));
  assert.ok(row, 'the exports table has a types row');
  const named = new Set<string>();
  for (const match of INDEX.matchAll(/export type \{([^}]+)\}/g))
    for (const name of match[1].split(',')) if (name.trim() !== '') named.add(name.trim());
  for (const match of INDEX.matchAll(/export type (\w+) =/g)) named.add(match[1]);
  assert.ok(named.size > 0);
  for (const name of named) assert.ok(row.includes(`\`${name}\``), `the types row names ${name}`);
});

test("the public entry points the section names are package.json's exports, and each has a section", () => {
  const subpaths = Object.keys(PACKAGE.exports).filter((path) => path !== '.' && path !== './package.json');
  assert.ok(subpaths.length > 0);
  const sentence = SECTION.join('\n');
  const said = [...sentence.matchAll(/Nothing else is public but[^.]*/g)].map((m) => m[0]).join(' ');
  const named = [...said.matchAll(/\[`([^`]+)`\]/g)].map((m) => m[1]).sort();
  assert.deepEqual(named, subpaths.map((path) => `${PACKAGE.name}${path.slice(1)}`).sort());
  for (const entry of named)
    assert.ok(lines.includes(`## ${entry}`), `the README has a "## ${entry}" section`);
});

test("the ways-out table names the Gateway's drain(), drainNow() and close(), each documented", () => {
  const documented = firstCells('method').map(nameOf).sort();
  const gateway = GATEWAY.slice(GATEWAY.indexOf('export interface Gateway {'));
  const body = gateway.slice(0, gateway.indexOf('\n}\n'));
  const waysOut = [...body.matchAll(/^ {2}(\w+)\(\): Promise<void>;/gm)].map((m) => m[1]).sort();
  assert.deepEqual(documented, waysOut);
  assert.deepEqual(waysOut, ['close', 'drain', 'drainNow']);
});
