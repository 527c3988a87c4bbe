/**
 * A reload of a big config (some 1,000 routes over a main file and 10 included ones, to 120
 * upstreams, test/helpers/big-config.ts) that changes one route, through the real path (`POST /reload` of the admin API: the file read
 * by the primary's bounded reader process, the worker swapping to it): every other route's state
 * is kept, as docs/operations.md ("Reload") says: an open circuit stays open (no connection
 * tried), an ejected target stays ejected, a pooled upstream connection is reused (the upstream
 * accepted no other), a stored answer is still a hit, a rate limit's bucket keeps its count, and
 * a request in flight across the reload finishes; the changed route answers as changed.
 * (1,000 routes, not 2,000: the reader's 10 s deadline is wall time, and on this shared machine
 * under three busy loops 2,000 routes, 1.3 s of CPU, once took past it at the start.)
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { bigConfig } from '../../helpers/big-config.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const TOKEN = 'big-reload-token-0123456789abcdef';

/** An upstream that counts the connections it accepted; `/slow` waits for `release()`. */
async function countingUpstream() {
  let connections = 0;
  let answered = 0;
  const held: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    const answer = () => {
      answered++;
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`answer ${answered}`);
    };
    if (req.url === '/slow') held.push(answer);
    else answer();
  });
  // Idle connections kept past the reload's few seconds (Node's 5 s would close the pooled one).
  server.keepAliveTimeout = 120_000;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    answered: () => answered,
    held: () => held.length,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test("a reload of a 1,000-route config that changes one route keeps every other route's state", {
  timeout: 120_000,
}, async () => {
  const dir = tempDir('candor-big-reload-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const filler = await startEcho();
  const pooled = await countingUpstream();
  const cached = await countingUpstream();
  const slow = await countingUpstream();
  const healthy = await countingUpstream();
  const broken = await startSwitchable();
  const failing = await startSwitchable();
  broken.setMode('reset');
  failing.setMode('reset');
  const big = bigConfig({ seed: 662, routes: 1000, upstreams: 120, includes: 10, target: filler.url });
  mkdirSync(join(dir, 'conf.d'));
  for (const [file, text] of big.includes) writeFileSync(join(dir, 'conf.d', file), text);
  const own = (version: number) => `  - name: changed
    match: { host: state.test, path: /changed }
    upstream: pooled
    response_headers: { set: { X-Version: "${version}" } }
  - { name: pool, match: { host: state.test, path: /pool }, upstream: pooled }
  - { name: cached, match: { host: state.test, path: /cached }, upstream: cached, cache: {} }
  - { name: slow, match: { host: state.test, path: /slow }, upstream: slow }
  - name: limited
    match: { host: state.test, path: /limited }
    upstream: pooled
    rate_limit: { rate: 0.001, burst: 3 }
  - { name: circuit, match: { host: state.test, path: /circuit }, upstream: broken }
  - { name: ejection, match: { host: state.test, path: /ejection }, upstream: pair }
`;
  const ownUpstreams = `  pooled: { targets: [{ url: "${pooled.url}" }] }
  cached: { targets: [{ url: "${cached.url}" }] }
  slow: { targets: [{ url: "${slow.url}" }], timeouts: { response: 60s, total: 60s } }
  broken:
    targets: [{ url: "${broken.url}" }]
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 2, open_time: 10m }
  pair:
    targets: [{ url: "${failing.url}" }, { url: "${healthy.url}" }]
    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 10m, max_ejected_percent: 50 }
    circuit_breaker: { consecutive_failures: 0 }
`;
  const path = join(dir, 'candor.yaml');
  const write = (version: number) =>
    writeFileSync(
      path,
      `name: big
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }
${big.main.replace('routes:\n', `routes:\n${own(version)}`).replace('upstreams:\n', `upstreams:\n${ownUpstreams}`)}`,
    );
  write(1);
  const serve = await startServe(path, 1, { admin: true });
  try {
    const base = `http://127.0.0.1:${serve.port}`;
    const get = (route: string) =>
      request(base, { path: `/${route}`, headers: { host: 'state.test' }, timeoutMs: 30_000 });

    // The state before the reload.
    assert.equal((await get('changed')).headers['x-version'], '1');
    assert.equal((await get('pool')).status, 200);
    const poolConnections = pooled.connections();
    assert.equal((await get('cached')).status, 200);
    const stored = await get('cached');
    assert.match(String(stored.headers['cache-status']), /hit/);
    assert.equal(cached.answered(), 1);
    for (let i = 0; i < 2; i++) assert.equal((await get('limited')).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await get('circuit')).status, 502);
    const open = await get('circuit');
    assert.equal(open.status, 503, 'the circuit opened');
    const brokenTried = broken.accepted.reset.length;
    // Round robin: within two requests the failing target takes one, fails, and is ejected.
    for (let i = 0; i < 2; i++) await get('ejection');
    assert.equal(failing.accepted.reset.length, 1, 'the failing target was tried once');
    const inFlight = get('slow');
    while (slow.held() === 0) await new Promise((resolve) => setTimeout(resolve, 20));

    write(2);
    const reloaded = await adminCall(serve.adminPort as number, 'POST', '/reload', { token: TOKEN });
    assert.equal(reloaded.status, 200, reloaded.text);

    // The changed route is changed; every other route's state is the one it had.
    assert.equal((await get('changed')).headers['x-version'], '2');
    assert.equal((await get('pool')).status, 200);
    assert.equal(pooled.connections(), poolConnections, 'the pooled connection was reused');
    const still = await get('cached');
    assert.match(String(still.headers['cache-status']), /hit/);
    assert.equal(cached.answered(), 1, 'the stored answer served, the upstream not asked');
    assert.equal((await get('limited')).status, 200, 'the third of the burst');
    assert.equal((await get('limited')).status, 429, 'the bucket kept its count');
    assert.equal((await get('circuit')).status, 503, 'the circuit is still open');
    assert.equal(broken.accepted.reset.length, brokenTried, 'no connection tried behind the open circuit');
    for (let i = 0; i < 4; i++) assert.equal((await get('ejection')).status, 200);
    assert.equal(failing.accepted.reset.length, 1, 'the ejected target is still ejected');
    slow.release();
    const finished = await inFlight;
    assert.equal(finished.status, 200, 'the request in flight across the reload finished');
    assert.equal(finished.body.toString(), 'answer 1');
  } finally {
    slow.release();
    await serve.stop();
    for (const upstream of [pooled, cached, slow, healthy, broken, failing, filler]) await upstream.close();
  }
});
