/**
 * `candor serve` says on stderr that it runs, once, even with its log in a file: version, the
 * primary's pid (the one to signal), config hash, listeners, admin API; and `--pid-file` holds
 * that pid while it runs and is gone after.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { configHash } from '../../../src/core/config/config-hash.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { VERSION } from '../../../src/core/version.ts';
import { request } from '../../helpers/http-client.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-start-');
after(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = 'start-line-token-0123456789';
const yaml = `name: start-edge
listen:
  - address: 127.0.0.1:0
  - address: 127.0.0.1:0
log: { destination: ${join(dir, 'access.log')} }
admin: { listen: 127.0.0.1:0, token_env: START_TOKEN }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:9
`;

test('serve writes one start line on stderr with the log in a file, and --pid-file holds the pid to signal', async () => {
  const config = join(dir, 'candor.yaml');
  writeFileSync(config, yaml);
  const pidFile = join(dir, 'candor.pid');
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--config', config, '--pid-file', pidFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, START_TOKEN: TOKEN },
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start line in 15 s; stderr: ${stderr}`)), 15_000);
      child.stderr.on('data', (c) => {
        stderr += c;
        if (stderr.includes('\n')) {
          clearTimeout(timer);
          resolve(stderr.slice(0, stderr.indexOf('\n')));
        }
      });
    });
    const hash = configHash(parseConfig(yaml, config, { START_TOKEN: TOKEN }));
    const match = new RegExp(
      `^candor ${VERSION.replaceAll('.', '\\.')} started: pid (\\d+) \\(in ${pidFile}\\), ` +
        `config ${config} ${hash}, listening on 127\\.0\\.0\\.1:(\\d+), 127\\.0\\.0\\.1:(\\d+), 2 workers, ` +
        'admin API on 127\\.0\\.0\\.1:(\\d+); signal this pid \\(SIGHUP reloads, SIGTERM drains\\)$',
    ).exec(line);
    assert.ok(match, line);
    const [, pid, first, second, admin] = match;
    assert.equal(Number(pid), child.pid, 'the primary: the process serve started as');
    assert.equal(readFileSync(pidFile, 'utf8'), `${child.pid}\n`);
    // The addresses are the bound ones: each listener answers (502: its upstream refuses), and the admin API.
    for (const port of [first, second]) assert.equal((await request(`http://127.0.0.1:${port}`)).status, 502);
    assert.equal((await request(`http://127.0.0.1:${admin}`, { path: '/live' })).status, 200);
    assert.equal(stdout, '', 'the log went to its file');

    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed at exit');
    assert.equal(stderr.split('\n').filter((l) => l.startsWith('candor ')).length, 1, 'one start line');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a pid file that cannot be written stops serve before it starts anything (exit 69, the path named)', async () => {
  const config = join(dir, 'candor.yaml');
  writeFileSync(config, yaml);
  const missing = join(dir, 'no-such-folder', 'candor.pid');
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--config', config, '--pid-file', missing], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, START_TOKEN: TOKEN },
    }),
  );
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 69);
  assert.match(stderr, new RegExp(`^candor: could not write the pid file ${missing}: ENOENT`));
});
