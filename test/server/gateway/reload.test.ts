/**
 * Gateway.reload in one process, on real sockets: what a reload keeps (listener sockets,
 * pooled connections, ejections, the circuit), what it changes (routes, weights, listeners
 * added and removed), what it refuses (a setting a live socket cannot change), and a request
 * in flight across it.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startSwitchable } from '../../../src/kits/fault-kit/switchable.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { routeChanges } from '../../../src/server/gateway/reload-plan.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const withListen = (yaml: string, listen = '  - address: 127.0.0.1:0\n') =>
  parseConfig(`listen:\n${listen}${yaml}`, '<test>', {});

const twoRoutes = (a: string, b: string, extra = '', swap = false) => `name: edge-1
routes:
  - name: a
    match: { path: /a }
    upstream: ${swap ? 'b' : 'a'}
  - name: b
    match: { path: /b }
    upstream: ${swap ? 'a' : 'b'}
upstreams:
  a:
    targets: [{ url: "${a}" }]
${extra}
  b:
    targets: [{ url: "${b}" }]
`;

test('a reload keeps the listener socket and the pooled upstream connection, and new routes take effect', async () => {
  const one = await startEcho();
  const two = await startEcho();
  const gw = await startTestGateway(twoRoutes(one.url, two.url));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${gw.url}${path}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    assert.equal(await get('/a'), 200);
    assert.equal(one.connections, 1);
    // Swap the routes: /a now goes to upstream b, /b to a; upstream a gets a new total timeout.
    const outcome = await gw.gateway.reload(
      withListen(twoRoutes(one.url, two.url, '    timeouts: { total: 61s }', true)),
    );
    assert.deepEqual(outcome.listeners, { kept: 1, added: [], removed: [] });
    assert.deepEqual(outcome.upstreams, { kept: ['a', 'b'], added: [], removed: [] });
    assert.equal(gw.gateway.listeners[0].port(), gw.port, 'the listener kept its port');
    assert.equal(await get('/b'), 200);
    assert.equal(one.connections, 1, 'the pooled connection to the kept target was reused');
    assert.equal(one.received.length, 2);
    assert.equal(await get('/a'), 200);
    assert.equal(two.received.length, 1, '/a reaches the target the new config names');
    assert.equal(
      agent.sockets[Object.keys(agent.sockets)[0]]?.length ?? 1,
      1,
      'one client connection throughout',
    );
    const swapped = gw.logs.find((l) => l.msg === 'config swapped');
    assert.equal(swapped?.config_hash, gw.gateway.configHash());
    // The line names the routes the reload changed (issue 32, item 8): both swapped upstreams.
    assert.deepEqual(outcome.routes, { added: [], removed: [], changed: ['a', 'b'] });
    assert.deepEqual(swapped?.routes, outcome.routes);
  } finally {
    agent.destroy();
    await gw.close();
    await one.close();
    await two.close();
  }
});

test('an ejected target stays ejected across a reload; the circuit and the retry budget are the same objects', async () => {
  const flaky = await startSwitchable();
  const good = await startEcho();
  const yaml = (extraTimeout: string) => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${flaky.url}" }, { url: "${good.url}" }]
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 50 }
    retries: { attempts: 2 }
    timeouts: { connect: ${extraTimeout} }
`;
  const gw = await startTestGateway(yaml('2s'));
  try {
    flaky.setMode('reset');
    for (let i = 0; i < 4; i++) assert.equal((await request(gw.url, { path: `/x${i}` })).status, 200);
    const before = gw.gateway.runtime().upstreams.get('app');
    assert.ok(before);
    const ejected = before.targets[0];
    assert.ok(ejected.isEjected(performance.now()), 'the resetting target was ejected');
    flaky.setMode('ok');
    const accepted = flaky.accepted.ok.length + flaky.accepted.reset.length;
    await gw.gateway.reload(withListen(yaml('3s')));
    const after = gw.gateway.runtime().upstreams.get('app');
    assert.ok(after && after !== before, 'a new upstream object for the new snapshot');
    assert.equal(after.targets[0], ejected, 'the same target state');
    assert.ok(after.targets[0].isEjected(performance.now()), 'still ejected after the reload');
    assert.equal(after.circuit, before.circuit);
    assert.equal(after.retryBudget, before.retryBudget);
    assert.equal(after.config.timeouts.connect, 3000);
    for (let i = 0; i < 6; i++) assert.equal((await request(gw.url, { path: `/y${i}` })).status, 200);
    assert.equal(
      flaky.accepted.ok.length + flaky.accepted.reset.length,
      accepted,
      'the ejected target received nothing after the reload',
    );
    const status = gw.gateway.status().upstreams.app.targets[0];
    assert.equal(status.ejected, true);
    assert.match(status.ejected_until ?? '', /^\d{4}-\d\d-\d\dT/);
  } finally {
    await gw.close();
    await flaky.close();
    await good.close();
  }
});

test('a request in flight finishes on the snapshot it began with; a removed target pool closes after it', async () => {
  const slow = await startEcho();
  const other = await startEcho();
  const gw = await startTestGateway(twoRoutes(slow.url, other.url));
  try {
    const inFlight = request(gw.url, { path: '/a?delay=400' });
    await slow.waitForRequest(1);
    // Upstream a and route /a disappear while the request is at its target.
    await gw.gateway.reload(
      withListen(`name: edge-1
routes:
  - name: b
    match: { path: /b }
    upstream: b
upstreams:
  b:
    targets: [{ url: "${other.url}" }]
`),
    );
    assert.equal((await request(gw.url, { path: '/a' })).status, 404, 'new requests see the new routes');
    const res = await inFlight;
    assert.equal(res.status, 200, 'the request in flight was answered by its upstream');
    const line = await gw.accessLine(2);
    assert.equal(line.status, 200);
    assert.equal(line.upstream, 'a', 'logged against the upstream of its own snapshot');
  } finally {
    await gw.close();
    await slow.close();
    await other.close();
  }
});

test('a listener added by a reload opens, a removed one closes; an unchanged one keeps its port', async () => {
  const up = await startEcho();
  const yaml = `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${up.url}" }]
`;
  const gw = await startTestGateway(yaml);
  try {
    const outcome = await gw.gateway.reload(
      withListen(yaml, '  - address: 127.0.0.1:0\n  - address: localhost:0\n'),
    );
    assert.deepEqual(outcome.listeners, { kept: 1, added: ['localhost:0'], removed: [] });
    assert.deepEqual(outcome.routes, { added: [], removed: [], changed: [] }, 'the same routes');
    assert.equal(gw.gateway.listeners.length, 2);
    const added = gw.gateway.listeners[1];
    assert.equal((await request(`http://localhost:${added.port()}`)).status, 200);
    const removed = await gw.gateway.reload(withListen(yaml, '  - address: localhost:0\n'));
    assert.deepEqual(removed.listeners, { kept: 1, added: [], removed: ['127.0.0.1:0'] });
    await assert.rejects(request(gw.url), /ECONNREFUSED/, 'the removed listener is closed');
    assert.equal((await request(`http://localhost:${added.port()}`)).status, 200);
  } finally {
    await gw.close();
    await up.close();
  }
});

test('a reload that changes limits.header_size or turns TLS on for a kept address is refused and changes nothing', async () => {
  const up = await startEcho();
  const other = await startEcho();
  const yaml = (target: string, limits = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${target}" }]
${limits}`;
  const gw = await startTestGateway(yaml(up.url));
  const certs = testCertificates();
  try {
    const hash = gw.gateway.configHash();
    await assert.rejects(
      gw.gateway.reload(withListen(yaml(other.url, 'limits: { header_size: 16KiB }\n'))),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => p.path),
          ['limits.header_size'],
        );
        assert.match(err.problems[0].message, /cannot change on a reload \(32768 → 16384 bytes\).*restart/);
        // Every config error names file, line and field: the field's key in the new file.
        assert.deepEqual(
          err.problems.map(({ file, line, column }) => ({ file, line, column })),
          [{ file: '<test>', line: 10, column: 11 }],
        );
        assert.match(err.message, /^<test>:10:11 +limits\.header_size: cannot change on a reload/);
        return true;
      },
    );
    await assert.rejects(
      gw.gateway.reload(
        withListen(
          yaml(other.url),
          `  - address: 127.0.0.1:0\n    tls: { cert: ${certs.localhost.certPath}, key: ${certs.localhost.keyPath} }\n`,
        ),
      ),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map(({ path, line, column }) => ({ path, line, column })),
          [{ path: 'listen[0].tls', line: 3, column: 5 }],
        );
        return true;
      },
    );
    assert.equal(gw.gateway.configHash(), hash);
    await request(gw.url);
    assert.equal(up.received.length, 1, 'still the old target: nothing changed');
    assert.equal(other.received.length, 0);
  } finally {
    await gw.close();
    await up.close();
    await other.close();
  }
});

test('a reload that turns HTTP/2 on or off for a kept address, or changes limits.http2 while a listener serves it, is refused', async () => {
  const up = await startEcho();
  const yaml = (extra = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${up.url}" }]
${extra}`;
  const plain = await startTestGateway(yaml());
  const h2 = await startTestGateway(yaml(), {}, 'http2: true');
  try {
    const problemPaths = (err: unknown) =>
      err instanceof ConfigError ? err.problems.map((p) => p.path) : [];
    await assert.rejects(
      plain.gateway.reload(withListen(yaml(), '  - address: 127.0.0.1:0\n    http2: true\n')),
      (err) => {
        assert.deepEqual(problemPaths(err), ['listen[0].http2']);
        assert.match(
          (err as ConfigError).problems[0].message,
          /cannot turn HTTP\/2 on for 127\.0\.0\.1:0 on a reload/,
        );
        return true;
      },
    );
    await assert.rejects(
      h2.gateway.reload(withListen(yaml())),
      (err) => problemPaths(err).join() === 'listen[0].http2',
    );
    await assert.rejects(
      h2.gateway.reload(
        withListen(
          yaml('limits: { http2: { max_pings: 5 } }\n'),
          '  - address: 127.0.0.1:0\n    http2: true\n',
        ),
      ),
      (err) => problemPaths(err).join() === 'limits.http2',
    );
    // No listener serves HTTP/2: its bounds are only config, a reload may change them.
    await plain.gateway.reload(withListen(yaml('limits: { http2: { max_pings: 5 } }\n')));
    assert.equal(plain.gateway.runtime().config.limits.http2.maxPings, 5);
  } finally {
    await plain.close();
    await h2.close();
    await up.close();
  }
});

test('a reload reads a TLS listener certificate again: new handshakes get the new one, same socket', async () => {
  const up = await startEcho();
  const certs = testCertificates();
  const dir = tempDir('candor-reload-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  copyFileSync(certs.localhost.certPath, cert);
  copyFileSync(certs.localhost.keyPath, key);
  const yaml = `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${up.url}" }]
`;
  const listen = `  - address: 127.0.0.1:0\n    tls: { cert: ${cert}, key: ${key} }\n`;
  const gateway = await (await import('../../../src/server/gateway/gateway.ts')).startGateway(
    withListen(yaml, listen),
    {
      logger: (await import('../../../src/observe/log/logger.ts')).createLoggerOn(
        { write: () => true },
        'silent',
        'edge',
      ),
    },
  );
  const port = gateway.listeners[0].port();
  const fingerprint = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
        socket.end();
      });
      socket.on('error', reject);
    });
  try {
    const before = await fingerprint();
    assert.equal(
      before,
      new (await import('node:crypto')).X509Certificate(certs.localhost.cert).fingerprint256,
    );
    copyFileSync(certs.selfSigned.certPath, cert);
    copyFileSync(certs.selfSigned.keyPath, key);
    await gateway.reload(withListen(yaml, listen));
    assert.equal(gateway.listeners[0].port(), port);
    assert.equal(
      await fingerprint(),
      new (await import('node:crypto')).X509Certificate(certs.selfSigned.cert).fingerprint256,
    );
  } finally {
    await gateway.close();
    await up.close();
  }
});

test('config swapped names the routes a reload added, removed and changed, a name used twice by its position', () => {
  const config = (routes: string) =>
    withListen(`routes:\n${routes}upstreams:\n  a:\n    targets: [{ url: "http://127.0.0.1:1" }]\n`);
  const before = config(
    '  - { name: kept, match: { path: /k }, upstream: a }\n  - { name: gone, match: { path: /g }, upstream: a }\n' +
      '  - { name: twice, match: { path: /t1 }, upstream: a }\n  - { name: twice, match: { path: /t2 }, upstream: a }\n',
  );
  const after = config(
    '  - { name: kept, match: { path: /k }, upstream: a }\n  - { name: twice, match: { path: /t1 }, upstream: a }\n' +
      '  - { name: twice, match: { path: /t2x }, upstream: a }\n  - { name: new, match: { path: /n }, upstream: a }\n',
  );
  // "twice" moved up one place (the removed route was before it): its position is part of it.
  assert.deepEqual(routeChanges(before, after), {
    added: ['new'],
    removed: ['gone'],
    changed: ['twice', 'twice#2'],
  });
});

test('a reload that lowers limits.body_idle_timeout holds the next request of a keep-alive connection opened before it', async () => {
  const up = await startEcho();
  const yaml = (idle: string) => `name: edge-1
limits: { body_idle_timeout: ${idle} }
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${up.url}" }]
`;
  const gw = await startTestGateway(yaml('30s'));
  const socket = net.connect(gw.port, '127.0.0.1');
  try {
    let text = '';
    const until = (done: (t: string) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!done(text)) return;
          socket.off('data', onData);
          resolve();
        };
        const onData = (chunk: Buffer) => {
          text += chunk.toString('latin1');
          check();
        };
        socket.on('data', onData);
        socket.once('error', reject);
        // Bounded: the old limit (30 s) would pass this; the new one (200 ms) well inside it.
        setTimeout(() => reject(new Error(`no answer in time, got ${JSON.stringify(text)}`)), 10_000).unref();
      });
    socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until((t) => /^HTTP\/1\.1 200 /.test(t) && t.includes('\r\n\r\n'));
    await gw.gateway.reload(withListen(yaml('200ms')));
    text = '';
    // The next request on the same connection sends 2 bytes of the 10 it announces, then nothing.
    socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab');
    await until((t) => /^HTTP\/1\.1 \d{3} /.test(t));
    assert.match(text, /^HTTP\/1\.1 408 /);
  } finally {
    socket.destroy();
    await gw.close();
    await up.close();
  }
});
