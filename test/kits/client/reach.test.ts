/**
 * `candor/client` ships what its entry reaches, and nothing of the gateway: every module its
 * entry imports, directly or through others (types included: they ship as declarations), is
 * in the client kit or in core.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../../..');
const ENTRY = join(ROOT, 'src/kits/client/index.ts');
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Every module of src/ the entry reaches, relative to the repository root. */
function reached(entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const target = resolve(dirname(file), match[1]);
      if (target.endsWith('.ts')) queue.push(target);
    }
  }
  return [...seen].map((file) => relative(ROOT, file)).sort();
}

test("candor/client's entry reaches only the client kit and core", () => {
  const files = reached(ENTRY);
  assert.ok(files.length > 10, files.join('\n'));
  const outside = files.filter(
    (file) => !file.startsWith('src/kits/client/') && !file.startsWith('src/core/'),
  );
  assert.deepEqual(outside, []);
});
