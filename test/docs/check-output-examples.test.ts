/**
 * What docs/configuration.md shows `candor check` printing for a config it shows is what the
 * command prints for it: the config block written to candor.yaml, `candor check candor.yaml`
 * run in its folder, its output compared line for line. The route-defaults listing once showed
 * routes named "api", "legacy" and "events" that no config of the page has, with defaults no
 * config of it gives them: a reader who ran the page's config got another listing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/candor.js');
const dir = tempDir('candor-check-output-docs-');
after(() => rmSync(dir, { recursive: true, force: true }));

const page = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');

function check(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [BIN, 'check', file], { cwd: dir, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr }),
    ),
  );
}

test("the route defaults `candor check` lists under the config route_defaults shows are that config's", async () => {
  // The ```text block the page shows after "which route took which default", and the last
  // ```yaml block before it: "the config above".
  const at = page.indexOf('`candor check` prints, after its summary, which route took which default');
  assert.notEqual(at, -1, 'docs/configuration.md says what check prints of the route defaults');
  const shown = /```text\n([\s\S]*?)```/.exec(page.slice(at));
  assert.ok(shown, 'a text block shows the listing');
  const configs = [...page.slice(0, at).matchAll(/```yaml\n([\s\S]*?)```/g)];
  const config = configs.at(-1)?.[1] ?? '';
  assert.ok(config.includes('route_defaults:'), 'the config above has route_defaults');
  writeFileSync(join(dir, 'candor.yaml'), config);
  const checked = await check('candor.yaml');
  assert.equal(checked.code, 0, checked.stderr);
  assert.equal(checked.stdout, shown[1]);
});
