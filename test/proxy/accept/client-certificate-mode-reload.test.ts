/**
 * A reload that makes a listener require client certificates (`mode: optional` to `require`, or
 * `client_certificates` added with `require`) ends the connections made without one: the new
 * config would have refused their handshake, so none is served again on the old verdict. An idle
 * HTTP/1.1 connection closes at once, a busy one after its answer (requests pipelined behind get
 * their line), an HTTP/2 one by GOAWAY, as a reload that changes the CAs ends the connections
 * that presented one (client-certificate-reload.test.ts).
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { type ClientCa, makeClientCa } from '../../helpers/client-ca.ts';
import { type ScriptedUpstream, scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { startGatewayFromText } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const server = testCertificates();
let clients: ClientCa;
let upstream: ScriptedUpstream;
/** Releases the held answer to /slow. */
let answerSlow: (() => void) | undefined;

before(async () => {
  clients = makeClientCa();
  upstream = await scriptedUpstream((socket, request) => {
    const answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    if (request.head.startsWith('GET /slow ')) answerSlow = answer;
    else answer();
  });
});

after(async () => {
  await upstream?.close();
  clients?.remove();
});

/** `certificates`: the listener's client_certificates line, or none. */
const config = (certificates: string | undefined) => `listen:
  - address: 127.0.0.1:0
    http2: true
    tls:
      cert: ${server.localhost.certPath}
      key: ${server.localhost.keyPath}
${certificates === undefined ? '' : `      client_certificates: ${certificates}\n`}routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`;
const withMode = (mode: string) => `{ ca: ${clients.ca}, crl: ${clients.crl}, mode: ${mode} }`;

const request = (path: string, id: string) =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ${id}\r\n\r\n`;

/** A TLS connection that presents no certificate, everything it receives gathered. */
async function connectWithout(port: number) {
  const socket = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: server.ca,
    ALPNProtocols: ['http/1.1'],
  });
  socket.on('error', () => {});
  const seen = { text: '', closed: false };
  socket.on('data', (chunk: Buffer) => {
    seen.text += chunk.toString('latin1');
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      seen.closed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => socket.once('secureConnect', resolve));
  return { socket, seen, closed };
}

/** Resolves when `closed` does, or after `ms` (the connection left open then): a bound, long for a loaded machine, not a timing. */
async function within(closed: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

// Thunks: the client CA is made in before().
for (const [from, to, label] of [
  [() => withMode('optional'), () => withMode('require'), 'optional to require'],
  [() => undefined, () => withMode('require'), 'none to require'],
  // `mode` left out is `require` (its default).
  [
    () => withMode('optional'),
    () => `{ ca: ${clients.ca}, crl: ${clients.crl} }`,
    'optional to mode left out',
  ],
] as const) {
  test(`HTTP/1.1 (${label}): a kept-alive connection made without a certificate is closed, not served again`, async (t) => {
    const gw = await startGatewayFromText(config(from()));
    t.after(() => gw.close());
    const { socket, seen, closed } = await connectWithout(gw.port);
    t.after(() => socket.destroy());
    socket.write(request('/first', `first-${label}`));
    await waitUntil('the first answer', () => seen.text.endsWith('ok'));
    assert.match(seen.text, /^HTTP\/1\.1 200 /);
    const reached = upstream.requests.length;
    await gw.gateway.reload(parseConfig(config(to()), '<test>', {}));
    seen.text = '';
    if (!socket.destroyed) socket.write(request('/again', `again-${label}`));
    await within(closed, 15_000);
    assert.equal(seen.closed, true, `the connection stayed open; it answered: ${seen.text}`);
    assert.doesNotMatch(seen.text, /HTTP\/1\.1 200 /);
    assert.equal(upstream.requests.length, reached);
  });
}

test('HTTP/1.1: a busy connection made without a certificate closes after its answer; a request pipelined behind gets its line', async (t) => {
  const gw = await startGatewayFromText(config(withMode('optional')));
  t.after(() => gw.close());
  const { socket, seen, closed } = await connectWithout(gw.port);
  t.after(() => socket.destroy());
  answerSlow = undefined;
  const reached = upstream.requests.length;
  socket.write(request('/slow', 'slow') + request('/behind', 'behind'));
  await waitUntil('the first request reached the upstream', () => answerSlow !== undefined);
  await gw.gateway.reload(parseConfig(config(withMode('require')), '<test>', {}));
  (answerSlow as unknown as () => void)();
  await within(closed, 15_000);
  assert.equal(seen.closed, true, `the connection stayed open; it answered: ${seen.text}`);
  assert.match(seen.text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\nok$/);
  assert.equal((await gw.logFor('slow')).status, 200);
  const line = await gw.logFor('behind');
  assert.deepEqual(
    [line.path, line.status, line.error, line.stage],
    ['/behind', 0, 'proxy_internal_response', 'not_sent'],
  );
  assert.match(String(line.details), /client_certificates/);
  assert.deepEqual(
    upstream.requests.slice(reached).map((r) => r.head.split(' ')[1]),
    ['/slow'],
  );
});

test('HTTP/2: a session made without a certificate is told GOAWAY, and its next stream is not served', async (t) => {
  const gw = await startGatewayFromText(config(withMode('optional')));
  t.after(() => gw.close());
  const session = http2.connect(`https://localhost:${gw.port}`, {
    host: '127.0.0.1',
    servername: 'localhost',
    ca: server.ca,
  });
  session.on('error', () => {});
  t.after(() => session.destroy());
  const ask = () =>
    new Promise<number>((resolve) => {
      const stream = session.request({ ':path': '/h2' });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('error', () => resolve(0));
      stream.on('close', () => resolve(status));
      stream.resume();
      stream.end();
    });
  assert.equal(await ask(), 200);
  const reached = upstream.requests.length;
  const goaway = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 15_000);
    session.once('goaway', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  await gw.gateway.reload(parseConfig(config(withMode('require')), '<test>', {}));
  assert.equal(await goaway, true, 'no GOAWAY after the reload');
  assert.notEqual(session.closed || session.destroyed ? 0 : await ask(), 200);
  assert.equal(upstream.requests.length, reached);
});

test('optional to optional with another CA: a connection made without a certificate is still served (the new config would judge it alike)', async (t) => {
  const gw = await startGatewayFromText(config(withMode('optional')));
  t.after(() => gw.close());
  const other = makeClientCa();
  t.after(() => other.remove());
  const { socket, seen } = await connectWithout(gw.port);
  t.after(() => socket.destroy());
  socket.write(request('/first', 'kept-first'));
  await waitUntil('the first answer', () => seen.text.endsWith('ok'));
  await gw.gateway.reload(
    parseConfig(config(`{ ca: ${other.ca}, crl: ${other.crl}, mode: optional }`), '<test>', {}),
  );
  seen.text = '';
  socket.write(request('/again', 'kept-again'));
  await waitUntil('the second answer', () => seen.text.endsWith('ok') || seen.closed);
  assert.match(seen.text, /^HTTP\/1\.1 200 /);
});
