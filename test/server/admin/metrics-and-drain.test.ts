/**
 * The pieces the cluster primary composes: GET /metrics on the admin API (behind its token,
 * every worker's counts merged), and readiness that turns to 503 the moment a drain begins
 * (both on the admin listener and under probes_path on the main listener).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const TOKEN = 'metrics-drain-token-abcdefgh';

function getText(port: number, path: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path,
        agent: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
  });
}

/** A config file (its text made with the path of the token file, written beside it); its path. */
function writeConfig(text: (tokenFile: string) => string): string {
  const dir = tempDir('candor-md-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const path = join(dir, 'candor.yaml');
  writeFileSync(path, text(tokenFile));
  return path;
}

test('GET /metrics on the admin API needs the token and counts both workers; /ready turns 503 when SIGTERM begins the drain', async () => {
  const echo = await startEcho();
  const path = writeConfig(
    (tokenFile) => `name: md-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:0", token_file: ${tokenFile}, probes_path: /_candor }
drain: { delay: 1500ms, timeout: 5s }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${echo.url}
`,
  );
  const serve = await startServe(path, 2, { admin: true });
  try {
    const admin = serve.adminPort as number;
    const base = `http://127.0.0.1:${serve.port}`;
    for (let i = 0; i < 10; i++) assert.equal((await request(base)).status, 200);
    assert.equal((await getText(admin, '/metrics')).status, 401);
    const scrape = await getText(admin, '/metrics', TOKEN);
    assert.equal(scrape.status, 200);
    const served = [...scrape.text.matchAll(/^candor_responses_total\{[^}]*code="200"[^}]*\} (\d+)$/gm)];
    assert.equal(
      served.reduce((sum, m) => sum + Number(m[1]), 0),
      10,
    );

    assert.equal((await adminCall(admin, 'GET', '/ready')).status, 200);
    assert.equal((await request(base, { path: '/_candor/ready' })).status, 200);
    serve.child.kill('SIGTERM');
    await serve.waitForLines('draining: not ready', 2);
    const ready = await adminCall(admin, 'GET', '/ready');
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { status: 'draining' });
    // During drain.delay the main listener still serves, and says it is not ready.
    assert.equal((await request(base, { path: '/_candor/ready' })).status, 503);
    assert.equal((await request(base)).status, 200);
    assert.equal(await serve.stop(), 0);
  } finally {
    await serve.stop();
    await echo.close();
  }
});

test('SIGTERM: an admin client that sent half a head, or half a body, does not hold the primary past the drain', async () => {
  const echo = await startEcho();
  const path = writeConfig(
    (tokenFile) =>
      `listen:\n  - address: 127.0.0.1:0\nadmin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }\n` +
      `drain: { delay: 0s, timeout: 1s }\nroutes:\n  - upstream: app\nupstreams:\n  app:\n    targets:\n      - url: ${echo.url}\n`,
  );
  const serve = await startServe(path, 1, { admin: true });
  // Node's own bounds would hold these for 60 s (the head) and 300 s (the body): past systemd's
  // or Kubernetes' stop timeout, which then kills the gateway.
  const held = [
    'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n',
    `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{`,
  ].map(
    (bytes) =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(serve.adminPort as number, '127.0.0.1', () => {
          socket.write(bytes);
          resolve(socket);
        });
        socket.on('error', () => {});
      }),
  );
  const sockets = await Promise.all(held);
  try {
    // A call answered on a connection opened after them: both are the admin server's before the signal.
    assert.equal((await adminCall(serve.adminPort as number, 'GET', '/live')).status, 200);
    const cut = sockets.map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    const exited = serve.stop();
    const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 15_000).unref());
    assert.equal(await Promise.race([exited, late]), 0, serve.stderr());
    await Promise.all(cut);
  } finally {
    for (const socket of sockets) socket.destroy();
    await serve.stop();
    await echo.close();
  }
});
