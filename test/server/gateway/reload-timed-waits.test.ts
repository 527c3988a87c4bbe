/**
 * A wait already timed when a reload changes its timeout runs out on the value it began with
 * (docs/operations.md, "Reload": "a wait already timed at the reload … runs out on the value it
 * began with"; "a request in flight finishes on the snapshot it began with (its route, upstream,
 * timeouts, retry policy)"). Its answer must name that value too: a 408 that came after the old
 * header_timeout but said the new one, or a request queued before the reload whose head clock
 * became the new `timeouts.response` on the connection it got after it, told the operator a
 * value no wait had run on.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startUnaccepting } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();

const reload = (gw: TestGateway, yaml: string) =>
  gw.gateway.reload(parseConfig(`listen:\n  - address: 127.0.0.1:0\n${yaml}`, '<test>', {}));

const config = (url: string, limits: string, timeouts: string) => `name: edge-1
limits: { ${limits} }
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: "${url}" }]
    outlier_detection: { consecutive_failures: 0 }
    pool: { max_connections: 1, queue_timeout: 30s }
    timeouts: { ${timeouts} }
`;

/** A raw client connection that sent `bytes`: what it received once the gateway closed it or answered. */
async function sendRaw(port: number, bytes: string) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('error', () => {});
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  socket.write(bytes);
  const answered = new Promise<string>((resolve) => {
    const check = () => {
      if (/\r\n\r\n/.test(received)) resolve(received);
    };
    socket.on('data', check);
    socket.once('close', () => resolve(received));
  });
  return { socket, answered, received: () => received };
}

test('a head and a body wait timed before a reload that raised their timeouts: the 408 names the value they ran on', async () => {
  const app = await keep(startBlackhole());
  const gw = await keep(startTestGateway(config(app.url, 'header_timeout: 1s, body_idle_timeout: 1s', '')));
  const head = await sendRaw(gw.port, 'GET /half HTTP/1.1\r\nHost: a\r\n');
  const body = await sendRaw(
    gw.port,
    'POST /body HTTP/1.1\r\nHost: a\r\nX-Request-Id: stalled-body\r\nContent-Length: 10\r\n\r\nabc',
  );
  try {
    // The gateway reads both before the reload (the body's head armed its wait): in this process,
    // a reload asked at once is done before the sockets' bytes are read.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await reload(gw, config(app.url, 'header_timeout: 60s, body_idle_timeout: 60s', ''));
    assert.equal(head.received() + body.received(), '', 'the reload came before either wait passed');
    const headAnswer = await head.answered;
    assert.match(headAnswer, /^HTTP\/1\.1 408 /);
    // Was: "… its head not whole within 60000 ms", after a 1 s wait.
    assert.match(
      headAnswer,
      /details="the request was not received in time: its head not whole within 1000 ms \(limits\.header_timeout\)"/,
    );
    const bodyAnswer = await body.answered;
    assert.match(bodyAnswer, /^HTTP\/1\.1 408 /);
    // Was: "request body stalled for 60000 ms", after a 1 s silence.
    assert.match(bodyAnswer, /details="request body stalled for 1000 ms \(limits\.body_idle_timeout\)"/);
    assert.equal(
      (await gw.logFor('stalled-body')).details,
      'request body stalled for 1000 ms (limits.body_idle_timeout)',
    );
  } finally {
    head.socket.destroy();
    body.socket.destroy();
  }
});

test('a request queued behind a full pool before a reload that raised timeouts.response: its head clock is the one it began with', async () => {
  const app = await keep(startBlackhole());
  const gw = await keep(startTestGateway(config(app.url, '', 'response: 1s, total: 60s')));
  const first = request(gw.url, { path: '/first', headers: { 'x-request-id': 'first' } });
  // The pool's one connection is the first request's: the second waits in its queue.
  while (app.connections < 1) await new Promise((resolve) => setTimeout(resolve, 5));
  const second = request(gw.url, { path: '/second', headers: { 'x-request-id': 'second' } });
  while (gw.gateway.runtime().upstreams.get('app')?.pending.count !== 1)
    await new Promise((resolve) => setTimeout(resolve, 5));
  await reload(gw, config(app.url, '', 'response: 5s, total: 60s'));
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual([a.status, b.status], [504, 504]);
  assert.match(String(a.headers['proxy-status']), /response timeout of 1000 ms/);
  // Was: "no response head (response timeout of 5000 ms) after 5001 ms": the queued request,
  // in flight since before the reload, ran on the connection's new clock.
  assert.match(
    String(b.headers['proxy-status']),
    /details="no response head \(response timeout of 1000 ms\) after \d+ ms"/,
  );
  assert.ok((await gw.logFor('second')).queued_ms !== undefined, 'it did wait in the queue');
});

test('a retry after a reload that raised timeouts.connect dials on the connect timeout its request began with', async () => {
  const targets = [await keep(startUnaccepting()), await keep(startUnaccepting())];
  const upstream = (connect: string) => `name: edge-1
routes:
  - name: app
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [${targets.map((t) => `{ url: "${t.url}" }`).join(', ')}]
    outlier_detection: { consecutive_failures: 0 }
    timeouts: { connect: ${connect}, total: 60s }
    retries: { attempts: 2, backoff: { base: 1ms, max: 1ms } }
`;
  const gw = await keep(startTestGateway(upstream('1s')));
  const answer = request(gw.url, { path: '/', headers: { 'x-request-id': 'dialled' } });
  // The first attempt is dialling (on the 1 s bound) when the reload raises it.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await reload(gw, upstream('5s'));
  const res = await answer;
  assert.equal(res.status, 504);
  const line = await gw.logFor('dialled');
  assert.equal(line.attempts, 2);
  // Was: the retry, dialled after the reload, waited the new 5 s ("… not done after 5000 ms").
  assert.deepEqual(
    (line.tries as { error: string }[]).map((t) => t.error),
    ['connection_timeout', 'connection_timeout'],
  );
  assert.match(String(line.details), /not done after 1000 ms/);
});
