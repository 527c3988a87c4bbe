/**
 * An `acme.storage` the gateway cannot keep files in: `candor check` said ok and `candor serve`
 * died with a stack trace (ENOTDIR, EACCES) and exit 1. Now `check` names the file, line and
 * field (exit 78, as every config problem), `serve` refuses the config the same way, and what
 * only opening the store finds (a file where one of its own folders belongs) is `candor: could
 * not start: FILE:LINE:COLUMN  acme.storage: …` and exit 69 (unavailable), with no stack trace.
 *
 * Tests run as root, whom permission bits do not stop: each folder is made unusable for real,
 * with a file where a folder belongs. The ACME directory is a closed port: nothing is ordered.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EXIT } from '../../../src/server/cluster/exit-codes.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-acme-storage-');
after(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join(dir, 'a-file');
writeFileSync(FILE, 'not a folder\n');

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** `candor ARGS` to its end (bounded: a serve that started is killed, and the test fails on its code). */
function candor(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = killAtExit(
      spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A config whose one TLS listener orders a name; `acme`: the lines of its acme section (none: no section). */
function configFile(name: string, acme: string | undefined): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
    tls:
      acme: { names: [example.test] }
${acme === undefined ? '' : `acme:\n  directory: https://127.0.0.1:1/directory\n${acme}`}routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: 'http://127.0.0.1:1' }]
`,
  );
  return path;
}

const underAFile = configFile('under-a-file', `  storage: ${FILE}/acme\n`);
const PROBLEM = `${underAFile}:7:12  acme.storage: "${FILE}/acme" cannot be made: "${FILE}" is not a folder: automatic HTTPS keeps its account key and certificates there`;

test('candor check: an acme.storage under a file is a problem at its file, line and field (exit 78)', async () => {
  const run = await candor(['check', underAFile]);
  assert.equal(run.code, EXIT.config, run.output);
  assert.ok(run.output.includes(PROBLEM), run.output);
});

test('candor check: a storage that is a file itself', async () => {
  const path = configFile('is-a-file', `  storage: ${FILE}\n`);
  const run = await candor(['check', path]);
  assert.equal(run.code, EXIT.config, run.output);
  assert.ok(
    run.output.includes(`${path}:7:12  acme.storage: "${FILE}" is not a folder: automatic HTTPS`),
    run.output,
  );
});

test('candor check: the default storage ($XDG_DATA_HOME/candor/acme) is checked too, pointing at the listener that orders', async () => {
  const path = configFile('default', undefined);
  const run = await candor(['check', path], { XDG_DATA_HOME: FILE });
  assert.equal(run.code, EXIT.config, run.output);
  assert.ok(
    run.output.includes(
      `${path}:4:7  listen[0].tls.acme: acme.storage: its default, "${FILE}/candor/acme" cannot be made: "${FILE}" is not a folder: automatic HTTPS keeps its account key and certificates there; set acme.storage to a folder the gateway can write`,
    ),
    run.output,
  );
});

test('candor serve: the same storage is refused before anything starts, as candor check says it, not a stack trace', async () => {
  const run = await candor(['serve', '--workers', '1', '--config', underAFile]);
  assert.equal(run.code, EXIT.config, run.output);
  assert.ok(run.output.includes(PROBLEM), run.output);
  assert.doesNotMatch(run.output, /\n\s+at /, 'no stack trace');
});

test("candor serve: a file where one of the store's own folders belongs names the file, line, field and folder, exit 69, no stack trace", async () => {
  const store = join(dir, 'store');
  mkdirSync(store);
  writeFileSync(join(store, 'accounts'), 'not a folder\n');
  const path = configFile('accounts-a-file', `  storage: ${store}\n`);
  assert.equal((await candor(['check', path])).code, EXIT.ok, 'the root folder can be written');
  const run = await candor(['serve', '--workers', '1', '--config', path]);
  assert.equal(run.code, EXIT.unavailable, run.output);
  assert.match(
    run.output,
    new RegExp(
      `^candor: could not start: ${path.replace(/[./]/g, '\\$&')}:7:3  acme\\.storage: cannot keep certificates in "${store.replace(/[./]/g, '\\$&')}": EEXIST`,
      'm',
    ),
  );
  assert.doesNotMatch(run.output, /\n\s+at /, 'no stack trace');
});
