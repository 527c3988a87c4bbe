/**
 * `candor` on a Node older than 22.18: it says what is needed and how to get it, for the
 * installed package (no npm scripts to lean on) and for a checkout (whose npm scripts run the
 * Node 24 it pins). The old Node is this one with `process.versions.node` made to say 20.11.0
 * before bin/candor.js reads it, and a real one when the machine has it (/usr/bin/node).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EXIT } from '../../src/server/cluster/exit-codes.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../..');
const OLD = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.11.0"})';

/** bin/candor.js alone in a package folder, as npm installs it (no src/ beside it). */
const installed = tempDir('candor-old-node-');
mkdirSync(join(installed, 'bin'));
copyFileSync(join(ROOT, 'bin/candor.js'), join(installed, 'bin/candor.js'));
writeFileSync(join(installed, 'package.json'), '{"name":"candor","type":"module"}\n');

after(() => rmSync(installed, { recursive: true, force: true }));

function run(node: string, preload: string[], bin: string, args: string[]) {
  const result = spawnSync(node, [...preload, bin, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the installed package on Node 20 names the Node it needs and how to get one, with the command to run', () => {
  const { code, stdout, stderr } = run(
    process.execPath,
    ['--import', OLD],
    join(installed, 'bin/candor.js'),
    ['serve', '--config', 'candor.yaml'],
  );
  assert.equal(code, EXIT.software);
  assert.equal(stdout, '');
  assert.match(stderr, /^candor: Node 20\.11\.0 is too old: Candor needs Node >= 22\.18/);
  assert.match(stderr, /nvm install 24 && nvm use 24/);
  assert.match(stderr, /^ {2}npx -p node@24 candor serve --config candor\.yaml$/m);
  // What the user had already done, and what cannot help an installed package, is not the advice.
  assert.doesNotMatch(stderr, /npm start|run it through npm/);
});

test('a checkout on Node 20 points to its npm scripts, which run the Node 24 it pins', () => {
  const { code, stderr } = run(process.execPath, ['--import', OLD], join(ROOT, 'bin/candor.js'), [
    '--version',
  ]);
  assert.equal(code, EXIT.software);
  assert.match(stderr, /Candor needs Node >= 22\.18/);
  assert.match(stderr, /npx candor --version/);
});

test('on a real old Node (when the machine has one), the same words', (t) => {
  const system = '/usr/bin/node';
  const version = existsSync(system)
    ? spawnSync(system, ['--version'], { encoding: 'utf8' }).stdout.trim()
    : '';
  const [major, minor] = version.slice(1).split('.').map(Number);
  if (!(major < 22 || (major === 22 && minor < 18))) {
    t.skip(`no Node older than 22.18 at ${system} (${version || 'none'})`);
    return;
  }
  const { code, stderr } = run(system, [], join(installed, 'bin/candor.js'), ['check', 'candor.yaml']);
  assert.equal(code, EXIT.software);
  assert.match(stderr, new RegExp(`^candor: Node ${version.slice(1).replaceAll('.', '\\.')} is too old`));
  assert.match(stderr, /npx -p node@24 candor check candor\.yaml/);
});
