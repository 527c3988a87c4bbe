/**
 * `candor diagnose` colours its lines on a terminal unless NO_COLOR is set to a non-empty value:
 * no-color.org says an empty one (`NO_COLOR=`, a variable cleared rather than unset) asks for
 * nothing. Run under script(1), which gives the command a real terminal as its stdout.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const hasScript = spawnSync('script', ['--version']).status === 0;

function onTerminal(env: Record<string, string>, url: string): Promise<string> {
  const inherited = { ...process.env };
  delete inherited.NO_COLOR;
  const command = `'${process.execPath}' '${BIN}' diagnose ${url}`;
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.on('close', () => resolve(out));
  });
}

test('NO_COLOR set but empty leaves the colours on; set to a value, takes them off', {
  skip: !hasScript,
}, async () => {
  const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
  after(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const coloured = (text: string) => text.includes('\x1b[');
  assert.equal(coloured(await onTerminal({}, url)), true);
  assert.equal(coloured(await onTerminal({ NO_COLOR: '' }, url)), true);
  assert.equal(coloured(await onTerminal({ NO_COLOR: '1' }, url)), false);
});
