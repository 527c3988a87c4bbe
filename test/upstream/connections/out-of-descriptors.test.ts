/**
 * The gateway's own machine out of what a connection needs is its own failure, not the target's:
 * here the process's open-file limit (RLIMIT_NOFILE, lowered with prlimit to the descriptors it
 * already holds), so the upstream connect fails with a real EMFILE. The answer is 503
 * `proxy_resources_exhausted` with Retry-After (Proxy-Status: RFC 9209's connection_limit_reached),
 * and a circuit and an outlier detection that open at one failure stay shut.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { exhaustDescriptors, get } from '../../helpers/descriptors.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('no file descriptor left for the upstream connect: 503 proxy_resources_exhausted with Retry-After, and the target is not judged', async (t) => {
  const seen: string[] = [];
  // Connection: close: the gateway keeps no upstream connection, so each request needs a new one.
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { connection: 'close' }).end('ok');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }`,
    }),
  );
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/first', agent)).status, 200);

  const release = exhaustDescriptors();
  let answer: Awaited<ReturnType<typeof get>>;
  try {
    answer = await get(gw.url, '/exhausted', agent);
  } finally {
    release();
  }
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  assert.match(
    String(answer.headers['proxy-status']),
    /^edge-1; error=connection_limit_reached; details="no file descriptor left for the connection \(EMFILE: the process's open-file limit\) after [\d.]+ ms"; next-hop="app"$/,
  );
  const line = gw.logs.find((l) => l.msg === 'request' && l.path === '/exhausted');
  assert.equal(line?.error, 'proxy_resources_exhausted');
  assert.equal(line?.shape, 'gateway');
  assert.equal(line?.stage, 'not_sent');

  // Neither the circuit nor outlier detection took it as the target's: the next request reaches it.
  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  assert.equal(target?.isEjected(performance.now()), false);
  assert.equal((await get(gw.url, '/after', agent)).status, 200);
  assert.deepEqual(seen, ['/first', '/after']);
});

test('no file descriptor left for the name lookup: the same 503, not a dns_error blaming the name', async (t) => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { connection: 'close' }).end('ok');
  });
  t.after(() => upstream.close());
  // A target by name: each connection looks it up (getaddrinfo, which reads /etc/hosts). Out of
  // descriptors, glibc answers ENOTFOUND or EBUSY: "name lookup failed", a 502 dns_error.
  const gw = await startTestGateway(
    singleUpstream(upstream.url.replace('127.0.0.1', 'localhost'), {
      upstream: `    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }`,
    }),
  );
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/first', agent)).status, 200);

  const release = exhaustDescriptors();
  let answer: Awaited<ReturnType<typeof get>>;
  try {
    answer = await get(gw.url, '/exhausted', agent);
  } finally {
    release();
  }
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  assert.match(
    String(answer.headers['proxy-status']),
    /^edge-1; error=connection_limit_reached; details="no file descriptor left for the name lookup \(EMFILE: the process's open-file limit; the resolver said [A-Z_]+\) after [\d.]+ ms"; next-hop="app"$/,
  );
  const line = gw.logs.find((l) => l.msg === 'request' && l.path === '/exhausted');
  assert.equal(line?.error, 'proxy_resources_exhausted');
  assert.equal(line?.shape, 'gateway');

  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  assert.equal(target?.isEjected(performance.now()), false);
  assert.equal((await get(gw.url, '/after', agent)).status, 200);
  assert.deepEqual(seen, ['/first', '/after']);
});
