/**
 * Failures once the response head went downstream: the status cannot change, so the
 * transfer is aborted (never finished as if whole) and the log names what happened.
 * And the upstream's own errors, which pass through untouched.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startBadFraming, startNotModifiedWithLength } from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import {
  startCloseDelimited,
  startCloseDelimitedThenReset,
  startCloseMidBody,
  startResetMidBody,
} from '../../../src/kits/fault-kit/reset-faults.ts';
import { startHeadThenStall, startStallChunked } from '../../../src/kits/fault-kit/slow-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const quick = '    timeouts: { response: 1s, read: 300ms, total: 5s }\n';

describe('after the head went downstream', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const through = async (fault: Fault, upstream = quick) => {
    cleanups.push(() => fault.close());
    const gw = await startTestGateway(singleUpstream(fault.url, { upstream }));
    cleanups.push(() => gw.close());
    return gw;
  };

  const aborted: [string, () => Promise<Fault>, string, boolean][] = [
    ['a reset mid-body (Content-Length)', () => startResetMidBody(), 'http_response_incomplete', true],
    [
      'a reset mid-body (chunked)',
      () => startResetMidBody({ framing: 'chunked' }),
      'http_response_incomplete',
      true,
    ],
    ['a close mid-body (Content-Length)', () => startCloseMidBody(), 'http_response_incomplete', false],
    [
      'a close-delimited body that ends in a reset',
      () => startCloseDelimitedThenReset(),
      'http_response_incomplete',
      true,
    ],
    [
      'a body that stalls past the read timeout',
      () => startHeadThenStall(),
      'connection_read_timeout',
      false,
    ],
    [
      'a chunked body that stalls past the read timeout',
      () => startStallChunked(),
      'connection_read_timeout',
      false,
    ],
    [
      'an invalid chunk size after the head',
      () => startBadFraming({ variant: 'bad-chunk-size' }),
      'http_response_transfer_coding',
      false,
    ],
  ];
  for (const [name, start, error, reset] of aborted) {
    test(`${name}: the client sees an aborted transfer and the log says ${error}`, async () => {
      const gw = await through(await start());
      const res = await request(gw.url, { path: '/file', headers: { 'x-request-id': 'cut' } });
      assert.equal(res.status, 200, 'the upstream status already went out');
      assert.equal(res.aborted, true, 'the body must not look complete');
      const line = await gw.logFor('cut');
      assert.equal(line.status, 200);
      assert.equal(line.error, error);
      assert.equal(line.stage, 'body_streaming');
      assert.equal(line.upstream_reset, reset);
      assert.equal(line.client_aborted, false);
      assert.equal(line.level, 'warn');
    });
  }

  test('to an HTTP/1.0 client the body is delimited by the close: a cut one ends in a reset, never a FIN that says it is whole', async () => {
    const gw = await through(await startResetMidBody({ framing: 'chunked' }));
    const ending = await new Promise<string>((resolve) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.on('end', () => resolve(`FIN after ${text.length} bytes`));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? String(err)));
      socket.write('GET /file HTTP/1.0\r\nHost: a\r\nX-Request-Id: cut-10\r\n\r\n');
    });
    assert.equal(ending, 'ECONNRESET', 'a close-delimited body closed by a FIN would read as complete');
    const line = await gw.logFor('cut-10');
    assert.equal(line.error, 'http_response_incomplete');
  });

  test('a close-delimited HTTP/1.0 body that ends cleanly is complete', async () => {
    const fault = await startCloseDelimited();
    const gw = await through(fault);
    const res = await request(gw.url, { headers: { 'x-request-id': 'clean' } });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false);
    assert.ok(res.body.length > 0);
    const line = await gw.logFor('clean');
    assert.equal(line.error, undefined);
    assert.equal(line.bytes_out, res.body.length);
  });

  test('a 304 carrying a Content-Length passes through as a 304 (RFC 9110 §8.6)', async () => {
    const gw = await through(await startNotModifiedWithLength({ contentLength: 1234 }));
    const res = await request(gw.url, { headers: { 'if-none-match': '"x"', 'x-request-id': 'nm' } });
    assert.equal(res.status, 304);
    assert.equal(res.headers['content-length'], '1234');
    assert.equal(res.aborted, false);
    const line = await gw.logFor('nm');
    assert.equal(line.status, 304);
    assert.equal(line.error, undefined);
  });
});

describe("the upstream's own errors pass through untouched", () => {
  test('a 503 with Retry-After keeps its status, headers and body, with received-status', async () => {
    const fault = await startEcho();
    const gw = await startTestGateway(singleUpstream(fault.url));
    try {
      const res = await request(gw.url, {
        path: '/?status=503&retry_after=7',
        headers: { 'x-request-id': 'own' },
      });
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '7');
      assert.equal(res.headers['proxy-status'], 'edge-1; received-status=503; next-hop="app"');
      assert.equal(res.headers['cache-control'], undefined, 'the upstream did not send one; none is added');
      assert.equal(JSON.parse(res.text).url, '/?status=503&retry_after=7', "the upstream's own body");
      const line = await gw.logFor('own');
      assert.equal(line.status, 503);
      assert.equal(line.error, undefined, 'not a gateway failure');
      assert.equal(line.level, 'info');
    } finally {
      await gw.close();
      await fault.close();
    }
  });

  test('a 500 keeps its status; a Proxy-Status from further upstream is kept first', async () => {
    const fault = await startEcho();
    const gw = await startTestGateway(singleUpstream(fault.url));
    try {
      const res = await request(gw.url, {
        path: '/?status=500&header=proxy-status:inner;%20error=connection_refused',
      });
      assert.equal(res.status, 500);
      assert.equal(
        res.headers['proxy-status'],
        'inner; error=connection_refused, edge-1; received-status=500; next-hop="app"',
      );
    } finally {
      await gw.close();
      await fault.close();
    }
  });

  // RFC 9209 §2 appends to a List (RFC 9651): appended to an unterminated string, the gateway's
  // member was read as part of the upstream's details, and a strict reader dropped the field.
  for (const broken of ['inner; details="unterminated', '"inner, x', 'inner;;', ' '])
    test(`a Proxy-Status that is not a List (${JSON.stringify(broken)}) gives way to the gateway's own member`, async () => {
      const fault = await startRawFault(async (connection) => {
        await readRequest(connection);
        await connection.write(
          `HTTP/1.1 500 Oops\r\nProxy-Status: ${broken}\r\ncontent-length: 4\r\n\r\noops`,
        );
      });
      const gw = await startTestGateway(singleUpstream(fault.url));
      try {
        const res = await request(gw.url);
        assert.equal(res.status, 500);
        assert.equal(res.text, 'oops');
        assert.equal(res.headers['proxy-status'], 'edge-1; received-status=500; next-hop="app"');
      } finally {
        await gw.close();
        await fault.close();
      }
    });
});
