/**
 * `rediss://` is TLS (docs/configuration.md, `store.redis.url`), however its scheme is written:
 * a URL's scheme is case-insensitive (RFC 3986 §3.1), the config takes `REDISS://` as `rediss:`,
 * and /status shows it so. ioredis, given the text, turned TLS on only for a URL starting with
 * the lower-case `rediss://`: `REDISS://` was a plain connection, its HELLO carrying the password
 * in clear over the network the operator had asked TLS for. Each client a gateway opens (the
 * rate limits', the sessions', the fleet's) is checked at a plain listener that records what
 * comes, and a real `candor serve` shares its limits through a real TLS-only `redis-server`.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openFleetRedis } from '../../../src/core/net/fleet-redis.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { SessionStore } from '../../../src/proxy/admit/oidc/session-store.ts';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { waitUntil } from '../../helpers/wait.ts';

const PASSWORD = 'tls-only-redis-password';
const quiet = { info: () => {}, warn: () => {} } as never;

let echo: Fault;
let redis: RedisProcess;

before(async () => {
  echo = await startEcho();
  redis = await startRedis(PASSWORD, testCertificates().localhost);
});

after(() => closeAll(redis, echo));

test('REDISS:// in capitals is TLS for every client: each connection opens with a TLS handshake, the password never sent in clear', async () => {
  // Each connection's first bytes, and all it sent: nothing answers, as a TLS server would not answer a plain client.
  const first: Buffer[] = [];
  const all: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('data', (chunk: Buffer) => first.push(chunk));
    socket.on('data', (chunk: Buffer) => all.push(chunk));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const url = `REDISS://:${PASSWORD}@127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  const rates = new RedisRates({ url, onError: 'deny', timeout: 1000, prefix: 't:' }, quiet, {
    storeState: () => {},
    storeFallback: () => {},
  });
  const sessions = new SessionStore({ url, timeout: 1000, prefix: 't:' }, quiet);
  const fleet = await openFleetRedis({ url });
  try {
    await waitUntil('each client sent its first bytes', () => first.length >= 3);
    for (const chunk of first)
      assert.equal(chunk[0], 0x16, `a TLS handshake record, not ${chunk.subarray(0, 16)}`);
    assert.ok(!Buffer.concat(all).includes(PASSWORD), 'the password crossed in clear');
  } finally {
    rates.close();
    sessions.close();
    fleet.disconnect();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => listener.close(resolve));
  }
});

test('a candor serve on a TLS-only Redis named REDISS://: connected, its limit shared, as rediss:// is', async () => {
  const dir = tempDir('candor-redis-tls-');
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `listen:
  - address: 127.0.0.1:0
store:
  redis: { url: "${redis.url.replace('rediss://', 'REDISS://')}", on_error: deny, timeout: 2s }
routes:
  - name: limited
    upstream: app
    rate_limit: { rate: 0.1, burst: 2 }
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`,
  );
  // The test CA, trusted as an operator trusts a private CA: Node's own variable.
  const serve = await startServe(path, 1, { env: { NODE_EXTRA_CA_CERTS: testCertificates().caPath } });
  try {
    await serve.waitForLines('rate limit store connected: limits shared', 1, 10_000);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await request(`http://127.0.0.1:${serve.port}`, { path: '/', timeoutMs: 5_000 })).status,
      );
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.ok(!JSON.stringify(serve.lines).includes(PASSWORD));
    assert.equal(
      serve.lines.filter((l) => String(l.msg).startsWith('rate limit store unreachable')).length,
      0,
      JSON.stringify(serve.lines),
    );
  } finally {
    await serve.stop();
  }
});
