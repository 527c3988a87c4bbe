/**
 * A maintenance message reaches clients in the body of every 503 it makes: one with a control
 * character (ESC, NUL, CR, DEL, a C1 byte, a bidirectional override) is refused with file, line
 * and field, by `candor check` and by a reload, which keeps the running config. Tab and newline
 * are text: a plain-text or HTML body lays them out, JSON escapes them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const TOKEN = 'maintenance-message-token-0123456789';

/** A config whose route is in maintenance with `message`, written as a YAML double-quoted string. */
const configWith = (message: string, admin = '') => `listen:
  - address: 127.0.0.1:0
${admin}routes:
  - match: { path: / }
    upstream: app
    maintenance:
      retry_after: 60s
      message: "${message}"
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`;

function check(text: string): { file: string; status: number | null; stdout: string; stderr: string } {
  const file = join(tempDir('candor-maintenance-'), 'candor.yaml');
  writeFileSync(file, text);
  const result = spawnSync(process.execPath, [BIN, 'check', file], { encoding: 'utf8' });
  return { file, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const EXPECTED =
  "expected a message without control characters but tab and newline (a client's terminal would obey them)";

test('candor check refuses a maintenance message with ESC, NUL, CR, DEL, C1 or a bidi override, naming file, line and field', () => {
  for (const [written, code, at, shown] of [
    ['Down\\e[2J until 14:00', '001B', 5, 'Down\\u001b[2J until 14:00'],
    ['Down\\0', '0000', 5, 'Down\\u0000'],
    ['Back soon\\rAll fine', '000D', 10, 'Back soon\\rAll fine'],
    ['Down\\x7f', '007F', 5, 'Down\\u007f'],
    ['Down\\x9b31m', '009B', 5, 'Down\\u009b31m'],
    ['Down \\u202Eretsam', '202E', 6, 'Down \\u202eretsam'],
  ] as const) {
    const { file, status, stdout, stderr } = check(configWith(written));
    assert.equal(status, 78, `${written}: ${stderr}`);
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      `${file}:8:16  routes[0].maintenance.message: ${EXPECTED}, got U+${code} at character ${at} of "${shown}"\n1 problem in ${file}\n`,
    );
  }
});

test('candor check refuses a maintenance message holding half a surrogate pair (YAML\'s "\\uD800"): problem+json would carry it as an escape strict JSON readers refuse', () => {
  const { file, status, stdout, stderr } = check(configWith('Down \\uD800 until 14:00'));
  assert.equal(status, 78, stderr);
  assert.equal(stdout, '');
  assert.equal(
    stderr,
    `${file}:8:16  routes[0].maintenance.message: expected a message of whole characters, got half a surrogate pair, U+D800, at character 6 of "Down \\ud800 until 14:00"\n1 problem in ${file}\n`,
  );
});

test('candor check takes a maintenance message with tabs and newlines', () => {
  const { file, status, stdout, stderr } = check(
    configWith('Down until 14:00 UTC.\\n\\tStatus: status.example'),
  );
  assert.equal(stderr, '');
  assert.equal(status, 0);
  assert.match(stdout, new RegExp(`^${file.replaceAll('.', '\\.')}: ok `));
});

test('a reload bringing in a message with ESC is refused with file, line and field; the running message stays', async () => {
  const dir = tempDir('candor-maintenance-reload-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const adminPort = await freePort();
  const admin = `admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }\n`;
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, configWith('Down until 14:00', admin));
  const serve = await startServe(path, 1, { admin: true });
  try {
    writeFileSync(path, configWith('Down\\e]0;owned\\a until 14:00', admin));
    const reload = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
    assert.equal(reload.status, 400);
    const report = reload.body.reload as { result: string; problems: unknown[] };
    assert.equal(report.result, 'invalid');
    assert.deepEqual(report.problems, [
      {
        file: path,
        line: 9,
        column: 16,
        path: 'routes[0].maintenance.message',
        message: `${EXPECTED}, got U+001B at character 5 of "Down\\u001b]0;owned\\u0007 until 14:00"`,
      },
    ]);
    const res = await fetch(`http://127.0.0.1:${serve.port}/`, { headers: { accept: 'text/plain' } });
    assert.equal(res.status, 503);
    const body = await res.text();
    assert.match(body, /Down until 14:00/);
    assert.doesNotMatch(body, /[\x00-\x08\x0b-\x1f\x7f]/);
  } finally {
    await serve.stop();
  }
});
