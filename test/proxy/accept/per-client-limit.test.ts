/**
 * `limits.per_client` (issue 35, item 1): connections and requests in flight per client
 * address, as nginx's `limit_conn`. Past either, the client is told so (429, Retry-After,
 * Proxy-Status `http_request_denied`) and the connection closes: never a silent drop.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

/** One connection: sends `bytes`, collects what comes back. */
function open(port: number, bytes: string) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (c: Buffer) => {
    received += c.toString('latin1');
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  socket.write(bytes);
  return { socket, received: () => received, closed: () => closed };
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;

test('past per_client.connections a new connection is answered 429 with Retry-After and closed; one closing makes room', async () => {
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  const edge = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'limits:\n  per_client:\n    connections: 2' }),
  );
  try {
    const first = open(edge.port, GET('/one'));
    const second = open(edge.port, GET('/two'));
    await waitUntil('two answers', () => first.received().endsWith('ok') && second.received().endsWith('ok'));

    const third = open(edge.port, GET('/three'));
    await waitUntil('the third connection closed', third.closed);
    const answer = third.received();
    assert.match(answer, /^HTTP\/1\.1 429 /);
    assert.match(answer, /\r\nretry-after: 1\r\n/i);
    assert.match(
      answer,
      /\r\nproxy-status: edge-1; error=http_request_denied; details="[^"]*holds 2 connections/i,
    );
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.deepEqual(seen, ['/one', '/two'], 'nothing of it reached the upstream');
    assert.equal(first.closed() || second.closed(), false, 'the two held connections live on');
    const line = edge.logs.find((l) => l.path === '/three');
    assert.equal(line?.status, 429);
    assert.equal(line?.error, 'http_request_denied');

    first.socket.destroy();
    await waitUntil('the first connection gone', first.closed);
    // The gateway sees the close a moment after the client does.
    let fourth = open(edge.port, GET('/four'));
    await waitUntil('an answer', () => /^HTTP\/1\.1 \d{3}/.test(fourth.received()) || fourth.closed());
    for (let i = 0; i < 20 && !fourth.received().startsWith('HTTP/1.1 200'); i++) {
      fourth.socket.destroy();
      await new Promise((r) => setTimeout(r, 50));
      fourth = open(edge.port, GET('/four'));
      await waitUntil('an answer', () => /^HTTP\/1\.1 \d{3}/.test(fourth.received()) || fourth.closed());
    }
    await waitUntil('the fourth answered', () => fourth.received().endsWith('ok'));
    assert.match(fourth.received(), /^HTTP\/1\.1 200 /);
    fourth.socket.destroy();
    second.socket.destroy();
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('past per_client.requests a request is answered 429 while the client has its limit in flight; the slot comes back', async () => {
  let hold: (() => void) | undefined;
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/slow') hold = () => res.end('slow');
    else res.end('ok');
  });
  const edge = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'limits:\n  per_client:\n    requests: 1' }),
  );
  try {
    const slow = open(edge.port, GET('/slow'));
    await waitUntil('the slow request at the upstream', () => hold !== undefined);
    const refused = open(edge.port, GET('/refused'));
    await waitUntil('the refusal', refused.closed);
    assert.match(refused.received(), /^HTTP\/1\.1 429 /);
    assert.match(refused.received(), /\r\nretry-after: 1\r\n/i);
    assert.match(refused.received(), /error=http_request_denied; details="[^"]*holds 1 request in flight/i);
    assert.deepEqual(seen, ['/slow']);

    hold?.();
    await waitUntil('the slow answer', () => slow.received().endsWith('slow'));
    // The same connection again: its slot went back when its response closed.
    slow.socket.write(GET('/after'));
    await waitUntil('the next answer', () => slow.received().endsWith('ok'));
    assert.deepEqual(seen, ['/slow', '/after']);
    slow.socket.destroy();
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('an HTTP/2 connection past per_client.connections gets its stream answered 429, then GOAWAY', async () => {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  const edge = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'limits:\n  per_client:\n    connections: 1' }),
    {},
    'http2: true',
  );
  const held = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await new Promise<number>((resolve, reject) => {
      http
        .get({ port: edge.port, host: '127.0.0.1', path: '/', agent: held }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
        .on('error', reject);
    });
    assert.equal(first, 200);
    const session = http2.connect(`http://127.0.0.1:${edge.port}`);
    session.on('error', () => {});
    const answer = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':path': '/h2' });
      stream.on('response', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(answer[':status'], 429);
    assert.equal(answer['retry-after'], '1');
    assert.match(String(answer['proxy-status']), /error=http_request_denied/);
    await waitUntil('the session closed', () => session.closed || session.destroyed);
    session.destroy();
  } finally {
    held.destroy();
    await edge.close();
    await upstream.close();
  }
});

test('HTTP/2: a stream past per_client.requests is answered 429, and the client’s stream in flight still ends whole', async () => {
  let hold: (() => void) | undefined;
  const seen: string[] = [];
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/slow') hold = () => res.end('slow');
    else res.end('ok');
  });
  const edge = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'limits:\n  per_client:\n    requests: 1' }),
    {},
    'http2: true',
  );
  const session = http2.connect(`http://127.0.0.1:${edge.port}`);
  session.on('error', () => {});
  try {
    const slow = session.request({ ':path': '/slow' });
    let slowStatus = 0;
    let slowBody = '';
    slow.on('response', (h) => {
      slowStatus = Number(h[':status']);
    });
    slow.setEncoding('utf8');
    slow.on('data', (c: string) => {
      slowBody += c;
    });
    slow.on('error', () => {});
    const slowEnded = new Promise<void>((resolve) => slow.on('close', () => resolve()));
    await waitUntil('the slow request at the upstream', () => hold !== undefined);
    const refused = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':path': '/refused' });
      stream.on('response', resolve);
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(refused[':status'], 429);
    assert.equal(refused['retry-after'], '1');
    assert.match(
      String(refused['proxy-status']),
      /error=http_request_denied; details="[^"]*holds 1 request in flight/,
    );
    hold?.();
    await slowEnded;
    assert.equal(slowStatus, 200);
    assert.equal(slowBody, 'slow');
    assert.deepEqual(seen, ['/slow']);
  } finally {
    session.destroy();
    await edge.close();
    await upstream.close();
  }
});

test("a browser app past per_client.requests reads its 429: the route's CORS fields are on it, for an allowed origin", async () => {
  let hold: (() => void) | undefined;
  const upstream = await listenOnLoopback((req, res) => {
    if (req.url === '/api/slow') hold = () => res.end('slow');
    else res.end('ok');
  });
  const edge = await startTestGateway(`name: edge-1
routes:
  - match: { path: /api }
    upstream: app
    cors: { origins: [https://app.example] }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
limits:
  per_client:
    requests: 1
`);
  try {
    const CORS_GET = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: a\r\nOrigin: https://app.example\r\n\r\n`;
    const slow = open(edge.port, CORS_GET('/api/slow'));
    await waitUntil('the slow request at the upstream', () => hold !== undefined);
    const refused = open(edge.port, CORS_GET('/api/refused'));
    await waitUntil('the refusal', refused.closed);
    assert.match(refused.received(), /^HTTP\/1\.1 429 /);
    assert.match(refused.received(), /\r\naccess-control-allow-origin: https:\/\/app\.example\r\n/i);
    assert.match(refused.received(), /\r\naccess-control-expose-headers: [^\r]*Retry-After/i);
    hold?.();
    await waitUntil('the slow answer', () => slow.received().endsWith('slow'));
    slow.socket.destroy();
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test("an IPv6 client is its /64: a connection from another address of the same /64 is past the limit, the next /64's is not", async () => {
  const upstream = await listenOnLoopback((_req, res) => res.end('ok'));
  // The PROXY header names the IPv6 clients a loopback test cannot connect from.
  const edge = await startTestGateway(
    singleUpstream(upstream.url, { extra: 'limits:\n  per_client:\n    connections: 1' }),
    {},
    'proxy_protocol: { from: [127.0.0.1] }',
  );
  const from = (client: string) => open(edge.port, `PROXY TCP6 ${client} ::1 40000 80\r\n${GET('/')}`);
  try {
    const first = from('2001:db8:1:2::1');
    await waitUntil('the first answered', () => first.received().endsWith('ok'));
    const rotated = from('2001:db8:1:2:dead:beef:0:7');
    await waitUntil('the rotated address closed', rotated.closed);
    assert.match(rotated.received(), /^HTTP\/1\.1 429 /);
    assert.match(rotated.received(), /details="this client's IPv6 \/64 holds 1 connection already/);
    const next = from('2001:db8:1:3::1');
    await waitUntil('the next /64 answered', () => next.received().endsWith('ok'));
    assert.match(next.received(), /^HTTP\/1\.1 200 /);
    first.socket.destroy();
    next.socket.destroy();
  } finally {
    await edge.close();
    await upstream.close();
  }
});
