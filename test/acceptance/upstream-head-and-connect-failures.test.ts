/**
 * Acceptance cases for the rows of DESIGN.md's failure table that upstream-framing-failures.test.ts
 * leaves out, each against a real peer that misbehaves: a status line or a field no HTTP/1.1
 * server may send, a chunked body that breaks after the head, an endless run of 1xx, a reset in
 * the middle of the head, a body that stops, a port nobody listens on, and a TLS upstream whose
 * certificate is for another name or has expired. Each checks the status, Proxy-Status (its type,
 * details and next hop: here the target's address, `errors.expose_upstream_address`), the headers
 * every gateway-made error carries, the one log line under the request id the client was given,
 * and that an upstream connection whose framing is in doubt is never used again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  startExpiredCertificate,
  startWrongHostCertificate,
  type TlsFault,
} from '../../src/kits/fault-kit/tls-faults.ts';
import { assertGatewayError, onlyLogLine } from '../helpers/gateway-error.ts';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type Script, type ScriptedUpstream, scriptedUpstream } from '../helpers/scripted-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { freePort } from '../helpers/wait.ts';

const GOOD = 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood';

const SCRIPTS: Record<string, Script> = {
  '/status-600': (s) => s.write('HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok'),
  '/status-099': (s) => s.write('HTTP/1.1 099 Below\r\nContent-Length: 2\r\n\r\nok'),
  '/status-2OO': (s) => s.write('HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok'),
  '/nul-in-value': (s) => s.write('HTTP/1.1 200 OK\r\nX-Bad: a\0b\r\nContent-Length: 2\r\n\r\nok'),
  '/cr-in-value': (s) => s.write('HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok'),
  '/obs-fold': (s) => s.write('HTTP/1.1 200 OK\r\nX-Bad: a\r\n b\r\nContent-Length: 2\r\n\r\nok'),
  '/bad-chunk-size': (s) =>
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'),
  '/no-crlf-after-chunk': (s) =>
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'),
  '/interim-flood': (s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\n'.repeat(3000));
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  },
  '/reset-mid-head': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Le');
    setTimeout(() => s.resetAndDestroy(), 20);
  },
  '/stalled-body': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhel'),
};

let upstream: ScriptedUpstream;
let expired: TlsFault;
let wrongName: TlsFault;
let refusedPort: number;
let gw: TestGateway;

before(async () => {
  upstream = await scriptedUpstream((socket, req) => {
    const path = /^\S+ (\S+)/.exec(req.head)?.[1] ?? '';
    const script = SCRIPTS[path];
    if (script) script(socket, req);
    else socket.write(GOOD);
  });
  expired = await startExpiredCertificate();
  wrongName = await startWrongHostCertificate();
  refusedPort = await freePort();
  const tls = (fault: TlsFault) => `    targets: [{ url: "https://localhost:${fault.port}" }]
    tls: { ca: ${fault.caPath} }
    retries: { attempts: 1 }
`;
  gw = await startTestGateway(`name: edge-1
errors: { expose_upstream_address: true }
routes:
  - { match: { path: /expired }, upstream: expired }
  - { match: { path: /wrong-name }, upstream: wrong_name }
  - { match: { path: /refused }, upstream: refused }
  - { match: { path: / }, upstream: app }
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
    timeouts: { response: 300ms, read: 300ms }
  expired:
${tls(expired)}  wrong_name:
${tls(wrongName)}  refused:
    targets: [{ url: "http://127.0.0.1:${refusedPort}" }]
    retries: { attempts: 1 }
`);
});

after(() => closeAll(gw, upstream, expired, wrongName));

/** The upstream connection the last request for `path` came on. */
const connectionOf = (path: string) =>
  upstream.requests.filter((r) => r.head.split(' ')[1] === path).at(-1)?.connection;

/** The next request goes on a new upstream connection: the one that carried `path` is not used again. */
async function assertNotReused(path: string): Promise<void> {
  const next = await request(gw.url, { path: `/after${path}` });
  assert.equal(next.text, 'good');
  assert.notEqual(connectionOf(`/after${path}`), connectionOf(path), 'the doubtful connection was reused');
}

describe('a status line no HTTP/1.1 server may send (RFC 9110 §15: three digits, 100 to 599)', () => {
  for (const [path, details, format] of [
    ['/status-600', /status code 600 out of range/, 'problem+json'],
    ['/status-099', /status code 099 out of range/, 'html'],
    ['/status-2OO', /invalid status line "HTTP\/1\.1 2OO OK"/, 'text'],
  ] as const) {
    test(`${path}: 502 http_protocol_error, never passed on, the connection closed`, async () => {
      const accept = { 'problem+json': 'application/json', html: 'text/html', text: 'text/plain' }[format];
      const res = await request(gw.url, { path, headers: { accept } });
      const id = assertGatewayError(res, {
        status: 502,
        error: 'http_protocol_error',
        details,
        nextHop: upstream.url,
        retryAfter: null,
        format,
      });
      const line = await onlyLogLine(gw, id);
      assert.equal(line.status, 502);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.shape, 'garbage');
      assert.equal(line.upstream, 'app');
      assert.equal(line.target, upstream.url);
      assert.equal(line.attempts, 1);
      await assertNotReused(path);
    });
  }
});

describe('a field value or line HTTP/1.1 forbids (RFC 9110 §5.5, RFC 9112 §5.2)', () => {
  for (const [path, details] of [
    ['/nul-in-value', /invalid character in the value of header "X-Bad"/],
    ['/cr-in-value', /invalid character in the value of header "X-Bad"/],
    ['/obs-fold', /obs-fold\) in header "X-Bad"/],
  ] as const) {
    test(`${path}: 502 http_protocol_error naming the field, nothing of it relayed`, async () => {
      const res = await request(gw.url, { path });
      const id = assertGatewayError(res, {
        status: 502,
        error: 'http_protocol_error',
        details,
        nextHop: upstream.url,
        retryAfter: null,
        format: 'text',
      });
      assert.equal(res.headers['x-bad'], undefined);
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'http_protocol_error');
      assert.equal(line.shape, 'garbage');
      await assertNotReused(path);
    });
  }

  test('an endless run of 1xx: 502 once they pass the head limit, the connection closed', async () => {
    const res = await request(gw.url, { path: '/interim-flood', headers: { accept: 'application/json' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'http_protocol_error',
      details:
        /interim \(1xx\) responses and no final one: their \d+ bytes are past the response head limit of 32768/,
      nextHop: upstream.url,
      retryAfter: null,
      format: 'problem+json',
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'garbage');
    await assertNotReused('/interim-flood');
  });
});

describe('chunked framing that breaks after the head: the 200 stands, the transfer is cut', () => {
  for (const [path, details] of [
    ['/bad-chunk-size', 'invalid chunk size "zz"'],
    ['/no-crlf-after-chunk', 'missing CRLF after chunk data'],
  ] as const) {
    test(`${path}: aborted, logged http_response_transfer_coding, the connection closed`, async () => {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 200);
      assert.equal(res.aborted, true, 'never finished as if whole');
      assert.equal(res.headers['proxy-status'], undefined, 'the head had gone');
      const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
      assert.equal(line.status, 200, 'the status the client got');
      assert.equal(line.error, 'http_response_transfer_coding');
      assert.equal(line.details, details);
      assert.equal(line.shape, 'garbage');
      assert.equal(line.stage, 'body_streaming');
      await assertNotReused(path);
    });
  }
});

describe('the connection breaks or stalls', () => {
  test('a reset in the middle of the head: 502 connection_terminated, no Retry-After', async () => {
    const res = await request(gw.url, { path: '/reset-mid-head', headers: { accept: 'text/html' } });
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_terminated',
      details: /connection reset \(ECONNRESET\) in the middle of the response head/,
      nextHop: upstream.url,
      retryAfter: null,
      format: 'html',
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'reset');
    assert.equal(line.stage, 'sent');
  });

  test('a body that stops after the head: the 200 is cut at timeouts.read, logged connection_read_timeout (slow)', async () => {
    const res = await request(gw.url, { path: '/stalled-body' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, true);
    assert.equal(res.text, 'hel');
    const line = await onlyLogLine(gw, res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
    assert.equal(line.error, 'connection_read_timeout');
    assert.equal(line.shape, 'slow');
    assert.equal(line.stage, 'body_streaming');
    await assertNotReused('/stalled-body');
  });

  test('nothing listening: 502 connection_refused, not sent, the target named', async () => {
    const res = await request(gw.url, { path: '/refused', headers: { accept: 'application/json' } });
    const target = `http://127.0.0.1:${refusedPort}`;
    const id = assertGatewayError(res, {
      status: 502,
      error: 'connection_refused',
      details: /connection refused \(ECONNREFUSED\)/,
      nextHop: target,
      retryAfter: null,
      format: 'problem+json',
    });
    const line = await onlyLogLine(gw, id);
    assert.equal(line.shape, 'unreachable');
    assert.equal(line.stage, 'not_sent');
    assert.equal(line.upstream, 'refused');
    assert.equal(line.target, target);
  });
});

describe('a TLS upstream whose certificate the gateway refuses', () => {
  for (const [path, fault, code, words] of [
    ['/expired', () => expired, 'CERT_HAS_EXPIRED', 'it has expired'],
    [
      '/wrong-name',
      () => wrongName,
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'it is for other\\.example, not for localhost',
    ],
  ] as const) {
    test(`${path}: 502 tls_certificate_error (${code}), nothing sent`, async () => {
      const res = await request(gw.url, { path, headers: { accept: 'text/plain' } });
      const target = `https://localhost:${fault().port}`;
      const id = assertGatewayError(res, {
        status: 502,
        error: 'tls_certificate_error',
        details: new RegExp(`^certificate rejected: ${words} \\(${code}\\) after [\\d.]+ ms$`),
        nextHop: target,
        retryAfter: null,
        format: 'text',
      });
      assert.equal(fault().received.length, 0, 'no request reached it');
      const line = await onlyLogLine(gw, id);
      assert.equal(line.error, 'tls_certificate_error');
      assert.equal(line.shape, 'unreachable');
      assert.equal(line.stage, 'not_sent');
      assert.equal(line.target, target);
    });
  }
});
