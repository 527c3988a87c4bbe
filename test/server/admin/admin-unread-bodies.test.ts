/**
 * A body the admin API refuses before any endpoint reads it (no token, no such endpoint, a
 * wrong Host) is not read without bound: the primary read a refused caller's declared
 * gigabyte whole, at the wire's speed, answering `Connection: keep-alive` while it did, and
 * held the connection for the rest of it until Node's 300 s. And `Expect: 100-continue` is
 * answered `100 Continue` only when an endpoint will read the body: Node sent it first for
 * every request, the refused ones too, inviting the body it was about to refuse. The real
 * admin endpoints over the primary's control, on real sockets.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type AdminServer, startAdminServer } from '../../../src/server/admin/admin-server.ts';
import { adminEndpoints } from '../../../src/server/admin/endpoints.ts';
import { ClusterControl } from '../../../src/server/cluster/cluster-control.ts';
import { rawRequest } from '../../helpers/http-client.ts';

const TOKEN = 'admin-unread-bodies-token-0123456789';
let server: AdminServer;

before(async () => {
  const config = parseConfig(
    'name: unread\nlisten:\n  - address: 127.0.0.1:0\nroutes:\n  - name: web\n    upstream: app\nupstreams:\n  app:\n    targets: [{ url: "http://127.0.0.1:9" }]\n',
    '<test>',
    {},
  );
  const logger = createLoggerOn(
    new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    }),
    'info',
    'unread',
  );
  const control = new ClusterControl('<test>', config, logger);
  control.serving = true;
  server = await startAdminServer({
    host: '127.0.0.1',
    port: 0,
    token: TOKEN,
    allowedHosts: [],
    routes: adminEndpoints(control),
    logger,
  });
});

after(() => server?.close());

/** The head of the first answer in `raw` (names lower-cased). */
function firstHead(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n')).toLowerCase();
}

/**
 * A request head declaring a gigabyte, then its body written for as long as the server takes
 * it, up to 64 MiB (far past what the sockets' buffers hold): whether the server ended the
 * connection before all of that was written, and what it answered. A client that stops at the
 * answer (`politely`) writes no more once its first bytes come.
 */
function declareGigabyte(head: string, politely: boolean) {
  return new Promise<{ raw: string; cut: boolean }>((resolve) => {
    const socket = net.connect(server.port(), '127.0.0.1');
    const chunks: Buffer[] = [];
    let answered = false;
    let ended = false;
    const finish = (cut: boolean) => {
      if (ended) return;
      ended = true;
      socket.destroy();
      resolve({ raw: Buffer.concat(chunks).toString('latin1'), cut });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      answered = true;
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    const pump = () => {
      while (!ended && written < 64 * 1024 * 1024) {
        if (politely && answered) return;
        written += piece.length;
        if (!socket.write(piece)) return void socket.once('drain', pump);
      }
      // Everything was taken: a server still reading after 64 MiB reads the whole gigabyte.
      if (!ended && !politely) socket.write(Buffer.alloc(0), () => finish(false));
    };
    socket.write(`${head}Content-Length: 1000000000\r\n\r\n`, pump);
  });
}

test('a refused caller that declares a gigabyte is answered Connection: close and cut: its body is never read whole', async () => {
  for (const [what, head] of [
    ['no token', 'POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n'],
    ['a wrong token', `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong-${TOKEN}\r\n`],
    ['no endpoint', `POST /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n`],
    ['a wrong Host', 'POST /reload HTTP/1.1\r\nHost: rebound.example\r\n'],
  ] as const) {
    const polite = await declareGigabyte(head, true);
    const status = Number(polite.raw.split(' ')[1]);
    assert.ok([401, 404, 421].includes(status), `${what}: ${polite.raw.slice(0, 200)}`);
    assert.match(firstHead(polite.raw), /\r\nconnection: close\r\n/, `${what}: told the connection ends`);
    assert.doesNotMatch(firstHead(polite.raw), /keep-alive/, what);
    assert.equal(polite.cut, true, `${what}: the server ends the connection, not waiting for the gigabyte`);
    const pushing = await declareGigabyte(head, false);
    assert.equal(pushing.cut, true, `${what}: a client that keeps writing is cut before 64 MiB are read`);
  }
});

test('a refused body small enough to drop is dropped and the connection serves the next request', async () => {
  const body = '{"file":"/etc/candor/candor.yaml"}';
  const { raw } = await rawRequest(
    server.port(),
    `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      `GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(raw.match(/^HTTP\/1\.1 \d{3}/gm)?.join(), 'HTTP/1.1 401,HTTP/1.1 200', raw.slice(0, 400));
});

test('Expect: 100-continue is answered 100 only when an endpoint reads the body: never before a refusal', async () => {
  const expect = 'Content-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n';
  for (const [what, head, status] of [
    ['no token', 'POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n', 401],
    ['no endpoint', `POST /nothing HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n`, 404],
    ['a wrong Host', 'POST /reload HTTP/1.1\r\nHost: rebound.example\r\n', 421],
  ] as const) {
    const { raw } = await rawRequest(server.port(), `${head}${expect}`);
    assert.equal(
      raw.match(/^HTTP\/1\.1 \d{3}/gm)?.join(),
      `HTTP/1.1 ${status}`,
      `${what}: ${raw.slice(0, 200)}`,
    );
    // Its body may come after the answer or never: what follows is no request either way.
    assert.match(firstHead(raw), /\r\nconnection: close\r\n/, `${what}: the connection ends`);
  }
  // Declared past the bound: 413 at once, the body never asked for.
  const { raw: large } = await rawRequest(
    server.port(),
    `PUT /targets/weights HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n`,
  );
  assert.equal(large.match(/^HTTP\/1\.1 \d{3}/gm)?.join(), 'HTTP/1.1 413', large.slice(0, 200));
  // An endpoint that reads it: 100 first, then its answer to the body that came.
  const socket = net.connect(server.port(), '127.0.0.1');
  const chunks: Buffer[] = [];
  const body = '{"route":"web"}';
  socket.write(
    `PUT /routes/maintenance HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
  );
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length === 1) socket.write(body);
    });
    socket.on('close', () => resolve());
  });
  const raw = Buffer.concat(chunks).toString('latin1');
  assert.equal(raw.match(/^HTTP\/1\.1 \d{3}/gm)?.join(), 'HTTP/1.1 100,HTTP/1.1 400', raw.slice(0, 300));
  assert.match(raw, /"field": "enabled"/, 'the body was read: its missing field is named');
});
