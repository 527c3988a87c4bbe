/**
 * Importing a module of Candor's registers nothing on the process: a program that embeds the
 * library, or a test that imports one module, gets no handler it did not ask for (lesson 17).
 * A child imports every module of src/ and compares the process's listeners before and after.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');
const EVENTS = ['exit', 'beforeExit', 'message', 'uncaughtException', 'unhandledRejection', 'warning'];
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];

test('importing every module of src/ registers no process handler', () => {
  const modules = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .sort();
  assert.ok(modules.length > 100, `${modules.length} modules`);
  const script = `
const events = ${JSON.stringify([...EVENTS, ...SIGNALS])};
const count = () => Object.fromEntries(events.map((e) => [e, process.listenerCount(e)]));
const before = count();
for (const file of ${JSON.stringify(modules)}) await import('./src/' + file);
const after = count();
console.log(JSON.stringify({ before, after }));
`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const { before, after } = JSON.parse(out.trim().split('\n').at(-1) as string);
  assert.deepEqual(after, before);
});
