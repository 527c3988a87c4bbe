/**
 * Writes held for the end of the turn (turn-end.ts), seen from the client: many responses
 * finished in the same turns, of every framing, each whole and on its own connection, and
 * pipelined responses in order.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

function startUpstream(): Promise<{ server: http.Server; url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const [, kind, n] = (req.url ?? '').split('/');
    if (kind === 'small') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(`n:${n}`.length) });
      res.end(req.method === 'HEAD' ? undefined : `n:${n}`);
    } else if (kind === 'chunked') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-sum' });
      res.write(`n:${n}`);
      setImmediate(() => {
        res.addTrailers({ 'x-sum': `sum-${n}` });
        res.end(`;end`);
      });
    } else {
      res.writeHead(204);
      res.end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
        requests: () => requests,
      }),
    ),
  );
}

function get(
  url: string,
  path: string,
  agent: http.Agent,
  method = 'GET',
): Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    http
      .request(`${url}${path}`, { agent, method }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
      })
      .on('error', reject)
      .end();
  });
}

test('responses finished in the same turns each reach their own client whole, whatever their framing', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.server.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  t.after(() => agent.destroy());
  const kinds = ['small', 'chunked', 'empty', 'head'] as const;
  const results = await Promise.all(
    Array.from({ length: 120 }, (_, n) => {
      const kind = kinds[n % kinds.length];
      if (kind === 'head') return get(gw.url, `/small/${n}`, agent, 'HEAD').then((r) => ({ kind, n, ...r }));
      return get(gw.url, `/${kind}/${n}`, agent).then((r) => ({ kind, n, ...r }));
    }),
  );
  for (const { kind, n, status, body, trailers } of results) {
    if (kind === 'small') assert.deepEqual({ status, body }, { status: 200, body: `n:${n}` });
    if (kind === 'head') assert.deepEqual({ status, body }, { status: 200, body: '' });
    if (kind === 'empty') assert.deepEqual({ status, body }, { status: 204, body: '' });
    if (kind === 'chunked') {
      assert.deepEqual({ status, body }, { status: 200, body: `n:${n};end` });
      assert.equal(trailers['x-sum'], `sum-${n}`);
    }
  }
  assert.equal(upstream.requests(), 120);
});

test('pipelined requests get their responses in order, held writes and all', async (t) => {
  const upstream = await startUpstream();
  t.after(() => upstream.server.close());
  const gw = await startTestGateway(singleUpstream(upstream.url));
  t.after(() => gw.close());
  const socket = net.connect(gw.port, '127.0.0.1');
  t.after(() => socket.destroy());
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.write(
    'GET /small/1 HTTP/1.1\r\nHost: a\r\n\r\n' +
      'HEAD /small/22 HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /empty HTTP/1.1\r\nHost: a\r\n\r\n' +
      'GET /small/333 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  );
  await new Promise((resolve) => socket.once('end', resolve));
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200, 204, 200]);
  const bodies = received.split(/\r\n\r\n/).slice(1);
  assert.ok(bodies[0].startsWith('n:1HTTP/1.1 200'), 'the first body, then the HEAD answer');
  assert.ok(bodies[1].startsWith('HTTP/1.1 204'), 'the HEAD answer has no body');
  assert.equal(bodies[3], 'n:333');
});
