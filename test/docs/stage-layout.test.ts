/**
 * The core of a request knows the stage contract, never a feature's stage: the session and the
 * exchange import src/proxy/stages/ and no module that builds a stage (`*-stage.ts`); the
 * stages are built in the composition root (src/server/gateway/stage-builders.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '../../src');

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

const core = [
  ...filesUnder('proxy/session'),
  ...filesUnder('proxy/forward').filter((f) => /\/exchange[^/]*\.ts$/.test(f)),
];

test('the session and the exchange import no stage of a feature', () => {
  const found: string[] = [];
  for (const file of core) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/-stage\.ts$/.test(spec) && !spec.includes('/stages/')) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

test('every module that builds a stage is named for it and built only by the composition root', () => {
  const builders = filesUnder('.').filter((f) => f.endsWith('-stage.ts'));
  assert.ok(builders.length > 0, 'Candor has stages');
  const importers: string[] = [];
  for (const file of filesUnder('.')) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/-stage\.ts$/.test(spec) && !file.startsWith('server/gateway/'))
        importers.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(importers, []);
});

test('the session, the exchange and the upstream request import nothing of the response cache: it is a stage', () => {
  const found: string[] = [];
  for (const file of [...core, 'proxy/forward/upstream-request.ts']) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/(^|\/)cache\//.test(spec)) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});
