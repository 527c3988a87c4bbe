/**
 * RFC 9112 / 9110 rules toward the client that the session keeps: a connection closes after
 * a refusal that leaves its framing in doubt, an HTTP/1.0 client is never kept alive, an
 * OPTIONS whose Max-Forwards is spent is answered here, and a client that leaves mid-body is
 * logged as having left.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

test('after a 501 for an unsupported transfer coding the connection closes: the body is never read as a next request', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    const answer = await rawRequest(
      gw.port,
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' +
        'GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    assert.equal(answer.status, 501);
    assert.match(answer.raw, /\r\nconnection: close\r\n/i);
    assert.equal(answer.closed, true);
    assert.equal(answer.raw.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
    assert.equal(echo.received.length, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an HTTP/1.0 client asking for keep-alive gets Connection: close and the connection closes', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    const answer = await rawRequest(gw.port, 'GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(answer.status, 200);
    assert.match(answer.raw, /\r\nconnection: close\r\n/i);
    assert.doesNotMatch(answer.raw, /keep-alive/i);
    assert.equal(answer.closed, true);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('an HTTP/1.0 request asking to upgrade is served as the plain request it also is: no tunnel, no 101 (RFC 9110 §7.8, §15.2)', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    const answer = await rawRequest(
      gw.port,
      'GET /ws HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.equal(answer.status, 200);
    assert.match(answer.raw, /\r\nconnection: close\r\n/i);
    assert.equal(answer.closed, true);
    assert.equal(echo.received.length, 1);
    assert.equal(echo.received[0].headers.upgrade, undefined, 'the Upgrade field was ignored');
    assert.doesNotMatch(echo.received[0].headers.connection ?? '', /upgrade/i);
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('OPTIONS with Max-Forwards: 0 is answered by the gateway; with 5 it reaches the upstream with 4', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    const spent = await rawRequest(
      gw.port,
      'OPTIONS /thing HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(spent.status, 200);
    assert.match(spent.raw, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i);
    assert.equal(echo.received.length, 0);
    const forwarded = await rawRequest(
      gw.port,
      'OPTIONS /thing HTTP/1.1\r\nHost: a\r\nMax-Forwards: 5\r\nConnection: close\r\n\r\n',
    );
    assert.equal(forwarded.status, 200);
    assert.equal((await echo.waitForRequest(1)).headers['max-forwards'], '4');
    const lines = gw.logs.filter((l) => l.msg === 'request');
    assert.equal(lines.length, 2);
    assert.equal(lines[0].status, 200);
    assert.equal(lines[0].attempts, 0);
  } finally {
    await gw.close();
    await echo.close();
  }
});

// RFC 9110 §7.6.2: a hop MUST forward the lesser of the value less one and the largest it
// supports. Ten digits or more went on as they came: a count no hop ever lessened.
test('an OPTIONS Max-Forwards of ten digits or more is lessened too: less one, or the largest the gateway counts', async () => {
  const echo = await startEcho();
  const gw = await startTestGateway(singleUpstream(echo.url));
  try {
    const sent = ['4294967296', '0000000005', '99999999999999999999'];
    for (const value of sent) {
      const answer = await rawRequest(
        gw.port,
        `OPTIONS /thing HTTP/1.1\r\nHost: a\r\nMax-Forwards: ${value}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(answer.status, 200);
    }
    await echo.waitForRequest(sent.length);
    assert.deepEqual(
      echo.received.map((r) => r.headers['max-forwards']),
      ['4294967295', '4', '999999999999999'],
    );
  } finally {
    await gw.close();
    await echo.close();
  }
});

test('a client that leaves mid-body is logged as having left, with the status it was sent', async () => {
  const upstream = await startRawFault(async (c) => {
    await c.nextRequest();
    await c.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n');
    await c.write(Buffer.alloc(1000, 'a'));
    // The rest never comes: the client gives up first.
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${gw.url}/`, { agent: false, headers: { 'x-request-id': 'left-1' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no body arrived')), 3000);
    });
    const line = await gw.logFor('left-1');
    assert.equal(line.status, 200);
    assert.equal(line.client_aborted, true);
    assert.equal(line.bytes_out, 1000);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('one log line per request: plain, refused by the parser, a client gone early, and an upgrade', async () => {
  const upstream = await startRawFault(async (c) => {
    const req = await c.nextRequest();
    if (req.path === '/ws') {
      await c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      c.socket.on('end', () => c.socket.end());
      return;
    }
    if (req.path === '/slow') return; // never answers: the client leaves first
    await c.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const gw = await startTestGateway(singleUpstream(upstream.url));
  try {
    await rawRequest(
      gw.port,
      'GET /plain HTTP/1.1\r\nHost: a\r\nX-Request-Id: one-1\r\nConnection: close\r\n\r\n',
    );
    await rawRequest(gw.port, 'GET /bad HTTP/1.1\r\nHost: a\r\nX-Request-Id: one-2\r\nBad Name: x\r\n\r\n');
    const gone = net.connect(gw.port, '127.0.0.1');
    gone.write('GET /slow HTTP/1.1\r\nHost: a\r\nX-Request-Id: one-3\r\n\r\n');
    await upstream.waitForRequest(2);
    gone.destroy();
    const ws = net.connect(gw.port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      ws.once('data', () => resolve());
      ws.write(
        'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Request-Id: one-4\r\n\r\n',
      );
    });
    ws.end();
    for (const id of ['one-1', 'one-2', 'one-3', 'one-4']) await gw.logFor(id);
    await new Promise((r) => setTimeout(r, 100));
    const ids = gw.logs.filter((l) => l.msg === 'request').map((l) => l.client_req_id);
    assert.deepEqual([...ids].sort(), ['one-1', 'one-2', 'one-3', 'one-4']);
    assert.equal((await gw.logFor('one-2')).status, 400);
    assert.equal((await gw.logFor('one-3')).status, 499);
    assert.equal((await gw.logFor('one-3')).client_aborted, true);
    assert.equal((await gw.logFor('one-4')).status, 101);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
