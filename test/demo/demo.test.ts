/** `npm start`: the demo gateway and its upstreams answer as DESIGN.md's failure table says. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http-client.ts';

const BIN = join(import.meta.dirname, '../../bin/candor.js');
let base: string;
let stop: () => Promise<number | null>;

before(async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--demo'], {
    env: { ...process.env, CANDOR_PORT: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  base = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const m = /gateway "candor-demo" on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m && stderr.includes('Ctrl-C')) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`demo exited ${code}: ${stderr}`)));
  });
  stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGINT');
    });
});

after(async () => {
  assert.equal(await stop(), 0, 'Ctrl-C stops the demo cleanly');
});

const TABLE: [path: string, status: number, error: string | undefined][] = [
  ['/healthy', 200, undefined],
  ['/refused', 502, 'connection_refused'],
  ['/unresolvable', 502, 'dns_error'],
  ['/tls-mismatch', 502, 'tls_protocol_error'],
  ['/slow', 504, 'http_response_timeout'],
  ['/reset', 502, 'connection_terminated'],
  ['/garbage', 502, 'http_protocol_error'],
  ['/badheader', 502, 'http_protocol_error'],
  ['/anything-else', 200, undefined],
];

for (const [path, status, error] of TABLE) {
  test(`demo ${path} answers ${status}${error ? ` ${error}` : ''}`, async () => {
    const res = await request(base, { path, headers: { accept: 'application/json' } });
    assert.equal(res.status, status);
    if (error) {
      assert.match(String(res.headers['proxy-status']), new RegExp(`^candor-demo; error=${error};`));
      assert.equal(JSON.parse(res.text).error, error);
    }
  });
}

test('demo /pool answers every request 200 although one of its targets flaps', async () => {
  for (let i = 0; i < 30; i++) {
    const res = await request(base, { path: `/pool/item/${i}` });
    assert.equal(res.status, 200, `request ${i}`);
  }
});

test('demo /truncated sends its 200 and then aborts the transfer', async () => {
  const res = await request(base, { path: '/truncated' });
  assert.equal(res.status, 200);
  assert.equal(res.aborted, true);
});

test("demo /healthy passes the app's own 503 through with received-status", async () => {
  const res = await request(base, { path: '/healthy/?status=503&retry_after=7' });
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '7');
  assert.equal(res.headers['proxy-status'], 'candor-demo; received-status=503; next-hop="healthy"');
});

test('a demo whose port is taken exits 69 and says why', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const child = spawn(process.execPath, [BIN, 'serve', '--demo'], {
      env: { ...process.env, CANDOR_PORT: String(port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 69);
    assert.match(stderr, /candor demo: could not start: .*EADDRINUSE.*set CANDOR_PORT/);
  } finally {
    blocker.close();
  }
});
