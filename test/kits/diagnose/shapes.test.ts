/**
 * Every shape of the failure table through `diagnose()`, against the fault kit's real
 * misbehaving servers: the verdict names the same failure type, shape and status the gateway
 * would, identifies what is on the port, and gives the fix that fits.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import type { DiagnoseOptions } from '../../../src/kits/diagnose/targets.ts';
import type { TargetReport } from '../../../src/kits/diagnose/types.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import {
  startBadFraming,
  startHtmlWithoutStatusLine,
  startHugeHeader,
  startInvalidHeader,
  startInvalidStatusLine,
  startJsonNotHttp,
  startRedis,
  startSmtpBanner,
  startSshBanner,
  startStackTrace,
} from '../../../src/kits/fault-kit/garbage-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readRequest, startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import {
  startCloseBeforeHead,
  startCloseDelimitedThenReset,
  startCloseMidHead,
  startResetBeforeHead,
  startResetMidBody,
} from '../../../src/kits/fault-kit/reset-faults.ts';
import { startBlackhole, startHeadThenStall } from '../../../src/kits/fault-kit/slow-faults.ts';
import {
  startClientCertificateRequired,
  startExpiredCertificate,
  startHttpsEcho,
  startPlainOnTlsPort,
  startSelfSignedCertificate,
  startTlsOnPlainPort,
  startWrongHostCertificate,
  type TlsFault,
} from '../../../src/kits/fault-kit/tls-faults.ts';
import {
  startRefusing,
  startUnaccepting,
  UNRESOLVABLE_URL,
} from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

interface Row {
  readonly name: string;
  readonly start: () => Promise<Fault | { url: string; close(): Promise<void> }>;
  readonly options?: (fault: Fault) => Partial<DiagnoseOptions>;
  readonly type: string;
  readonly shape: string;
  /** The status Candor's client would see. */
  readonly status: number;
  /** The step that failed (the last one). */
  readonly failedStep: string;
  readonly identified?: string;
  readonly fix: RegExp;
}

const trustCa = (fault: Fault) => ({ ca: (fault as TlsFault).caPath });

const ROWS: Row[] = [
  {
    name: 'refused: nothing listens on the port',
    start: startRefusing,
    type: 'connection_refused',
    shape: 'unreachable',
    status: 502,
    failedStep: 'connect',
    fix: /^nothing listens on 127\.0\.0\.1:\d+\. Start the upstream, or fix the port in the target URL\.$/,
  },
  {
    name: 'unresolvable: a .invalid name',
    start: async () => ({ url: UNRESOLVABLE_URL, close: async () => {} }),
    type: 'dns_error',
    shape: 'unreachable',
    status: 502,
    failedStep: 'dns',
    fix: /candor-fault\.invalid/,
  },
  {
    name: 'connect timeout: a listener that never accepts',
    start: startUnaccepting,
    options: () => ({ connectTimeout: 150 }),
    type: 'connection_timeout',
    shape: 'unreachable',
    status: 504,
    failedStep: 'connect',
    fix: /within the 150 ms connect timeout/,
  },
  {
    name: 'blackhole: no response head within the response timeout',
    start: startBlackhole,
    options: () => ({ answerTimeout: 150 }),
    type: 'http_response_timeout',
    shape: 'slow',
    status: 504,
    failedStep: 'response',
    fix: /no response head in 150 ms \(the response timeout\): it is too slow or stuck/,
  },
  {
    name: 'close before the head',
    start: startCloseBeforeHead,
    type: 'connection_terminated',
    shape: 'reset',
    status: 502,
    failedStep: 'response',
    fix: /closed the connection .*crashing or restarting/,
  },
  {
    name: 'reset before the head',
    start: startResetBeforeHead,
    type: 'connection_terminated',
    shape: 'reset',
    status: 502,
    failedStep: 'response',
    fix: /reset the connection .*crashing or restarting/,
  },
  {
    name: 'close in the middle of the head',
    start: startCloseMidHead,
    type: 'connection_terminated',
    shape: 'reset',
    status: 502,
    failedStep: 'response',
    fix: /crashing/,
  },
  {
    name: 'an SSH banner',
    start: startSshBanner,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'an SSH server',
    fix: /^something else is on that port: an SSH server \(it sent "SSH-2\.0-OpenSSH_9\.2p1 Debian-2"\)/,
  },
  {
    name: 'an SMTP banner',
    start: startSmtpBanner,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'an SMTP server',
    fix: /something else is on that port: an SMTP server .*220 mail\.example\.com ESMTP Postfix/,
  },
  {
    name: 'a Redis error line',
    start: startRedis,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'a Redis server',
    fix: /something else is on that port: a Redis server .*-ERR unknown command 'GET'/,
  },
  {
    name: 'a bare JSON blob',
    start: startJsonNotHttp,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'a bare JSON document',
    fix: /bare JSON document .*\{"error":"not http"\}/,
  },
  {
    name: 'a raw stack trace',
    start: startStackTrace,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'a raw stack trace',
    fix: /crashed and wrote a stack trace .*KeyError: '\/'/,
  },
  {
    name: 'HTML without a status line',
    start: startHtmlWithoutStatusLine,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    identified: 'an HTML page without a status line',
    fix: /captive portal/,
  },
  {
    name: 'an invalid header name',
    start: startInvalidHeader,
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /speaks HTTP, but its response head is invalid .*"Bad Header Name: x"/,
  },
  {
    name: 'obsolete line folding',
    start: () => startInvalidHeader({ variant: 'obs-fold' }),
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /head is invalid \(whitespace folding \(obs-fold\) in header "X-Folded": " {2}continued"\)/,
  },
  {
    name: 'a bare CR in a header value, after Content-Length',
    start: () => startInvalidHeader({ variant: 'bare-cr', afterContentLength: true }),
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /head is invalid \(invalid character in the value of header "X-Evil"/,
  },
  {
    name: 'a status line that is not HTTP/1.x',
    start: () => startInvalidStatusLine({ variant: 'unknown-version' }),
    type: 'http_protocol_error',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /head is invalid \(unsupported HTTP version "HTTP\/7\.3": "HTTP\/7\.3 200 OK"\)/,
  },
  {
    name: 'TLS on a plain port: a TLS handshake on the same port succeeds',
    start: startTlsOnPlainPort,
    type: 'connection_terminated',
    shape: 'reset',
    status: 502,
    failedStep: 'response',
    identified: 'a TLS server',
    fix: /^something else is on that port: a TLS server .*Use https:\/\//,
  },
  {
    name: 'plain HTTP on a TLS port',
    start: startPlainOnTlsPort,
    type: 'tls_protocol_error',
    shape: 'unreachable',
    status: 502,
    failedStep: 'tls',
    identified: 'a plain HTTP server',
    fix: /speaks plain HTTP on 127\.0\.0\.1:\d+, not TLS .*Use http:\/\//,
  },
  {
    name: 'an expired certificate',
    start: startExpiredCertificate,
    options: trustCa,
    type: 'tls_certificate_error',
    shape: 'unreachable',
    status: 502,
    failedStep: 'tls',
    fix: /expired on 2020-01-02\. Renew it/,
  },
  {
    name: 'a certificate for another host',
    start: startWrongHostCertificate,
    options: trustCa,
    type: 'tls_certificate_error',
    shape: 'unreachable',
    status: 502,
    failedStep: 'tls',
    fix: /is for DNS:other\.example, not for "127\.0\.0\.1"/,
  },
  {
    name: 'a certificate no trusted CA signed',
    start: startSelfSignedCertificate,
    options: trustCa,
    type: 'tls_certificate_error',
    shape: 'unreachable',
    status: 502,
    failedStep: 'tls',
    fix: /not signed by a CA this machine trusts \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
  },
  {
    name: 'a handshake that ends in an alert (a client certificate required, TLS 1.2)',
    start: () => startClientCertificateRequired({ maxVersion: 'TLSv1.2' }),
    options: trustCa,
    type: 'tls_alert_received',
    shape: 'unreachable',
    status: 502,
    failedStep: 'tls',
    fix: /the alert "handshake_failure"/,
  },
  {
    // Issue 31, item 10: the alert is named whenever it comes (it was connection_terminated).
    name: 'under TLS 1.3 the same alert comes after the handshake: still tls_alert_received',
    start: () => startClientCertificateRequired(),
    options: trustCa,
    type: 'tls_alert_received',
    shape: 'unreachable',
    status: 502,
    failedStep: 'response',
    fix: /the alert "certificate_required"/,
  },
  {
    name: 'a 64 KiB response header',
    start: startHugeHeader,
    type: 'http_response_header_section_size',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /largest field is X-Huge/,
  },
  {
    name: 'Content-Length with Transfer-Encoding',
    start: startBadFraming,
    type: 'http_response_transfer_coding',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /framing is broken: Transfer-Encoding together with Content-Length/,
  },
  {
    name: 'two different Content-Lengths (as the gateway reports them)',
    start: () => startBadFraming({ variant: 'two-lengths' }),
    type: 'http_response_content_length',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /framing is broken: conflicting Content-Length values/,
  },
  {
    name: 'a transfer coding other than chunked',
    start: () => startBadFraming({ variant: 'gzip-not-chunked' }),
    type: 'http_response_transfer_coding',
    shape: 'garbage',
    status: 502,
    failedStep: 'response',
    fix: /a transfer coding Candor cannot relay \(Transfer-Encoding "gzip" does not end in chunked\)/,
  },
  {
    name: 'a bad chunk size after a valid head: the 200 is already on its way',
    start: () => startBadFraming({ variant: 'bad-chunk-size' }),
    type: 'http_response_transfer_coding',
    shape: 'garbage',
    status: 200,
    failedStep: 'body',
    fix: /invalid chunk size "zz"/,
  },
  {
    name: 'a body under Transfer-Encoding gzip, chunked that is not gzip: framed whole, but the gateway cannot undo its coding',
    start: () =>
      startRawFault(async (connection) => {
        await readRequest(connection);
        await connection.end(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n7\r\nnotgzip\r\n0\r\n\r\n',
        );
      }),
    type: 'http_response_transfer_coding',
    shape: 'garbage',
    status: 200,
    failedStep: 'body',
    fix: /the upstream's body is not valid gzip, though its Transfer-Encoding says it is \(invalid gzip transfer coding: /,
  },
  {
    name: 'a reset mid-body: the body is cut short',
    start: startResetMidBody,
    type: 'http_response_incomplete',
    shape: 'reset',
    status: 200,
    failedStep: 'body',
    fix: /100 of 1000 body bytes, then reset the connection: it is crashing mid-response/,
  },
  {
    name: 'a close-delimited body ended by a reset is not whole',
    start: startCloseDelimitedThenReset,
    type: 'http_response_incomplete',
    shape: 'reset',
    status: 200,
    failedStep: 'body',
    fix: /reset the connection/,
  },
  {
    name: 'a body that stalls past the read timeout',
    start: startHeadThenStall,
    options: () => ({ readTimeout: 150 }),
    type: 'connection_read_timeout',
    shape: 'slow',
    status: 200,
    failedStep: 'body',
    fix: /10 body bytes, then nothing for 150 ms/,
  },
];

function lastStep(report: TargetReport) {
  return report.steps.at(-1);
}

describe('diagnose: every shape gets the verdict the gateway would give', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      const fault = (await row.start()) as Fault;
      cleanups.push(() => fault.close());
      const report = await diagnose({ target: fault.url, ...row.options?.(fault) });
      assert.equal(report.targets.length, 1);
      const [target] = report.targets;
      const { verdict } = target;
      assert.equal(verdict.outcome, 'failure');
      assert.equal(verdict.failure?.type, row.type, verdict.summary);
      assert.equal(verdict.failure?.shape, row.shape);
      assert.equal(verdict.status, row.status);
      assert.equal(report.exitCode, 2);
      if (row.identified) assert.equal(verdict.identified, row.identified);
      assert.match(verdict.fix, row.fix);
      const failed = lastStep(target);
      assert.equal(failed?.step, row.failedStep);
      assert.equal(failed?.ok, false);
      assert.ok(
        target.steps.slice(0, -1).every((step) => step.ok),
        'every step before the last passed',
      );
      if (row.status === 200)
        assert.match(verdict.summary, /passes the 200 head on, then aborts the transfer/);
      else
        assert.match(
          verdict.summary,
          new RegExp(`^${row.shape} / ${row.type} → Candor answers ${row.status}$`),
        );
    });
  }

  test('the dns step says an IP literal needs no lookup; a name lists its addresses', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const literal = await diagnose({ target: echo.url });
    assert.equal(literal.targets[0].steps[0].summary, '127.0.0.1 (IP literal, no lookup)');
    const named = await diagnose({ target: echo.url.replace('127.0.0.1', 'localhost') });
    const dns = named.targets[0].steps[0];
    assert.equal(dns.step, 'dns');
    assert.ok(dns.step === 'dns' && dns.facts.addresses.length >= 1);
    assert.match(dns.summary, /^localhost → /);
  });

  test('a healthy echo: exit 0, status 200, the body read whole with its size', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const report = await diagnose({ target: `${echo.url}/?bytes=5000` });
    const [target] = report.targets;
    assert.equal(report.exitCode, 0);
    assert.equal(target.verdict.outcome, 'ok');
    assert.equal(target.verdict.status, 200);
    assert.equal(target.verdict.summary, 'the upstream answers 200 → Candor passes it through');
    assert.deepEqual(
      target.steps.map((step) => [step.step, step.ok]),
      [
        ['dns', true],
        ['connect', true],
        ['request', true],
        ['response', true],
        ['body', true],
      ],
    );
    const body = target.steps[4];
    assert.ok(body.step === 'body');
    assert.deepEqual(body.facts, {
      framing: 'content-length',
      bytes: 5000,
      expected: 5000,
      complete: true,
      capped: false,
    });
    for (const step of target.steps.slice(1)) assert.equal(typeof step.ms, 'number');
  });

  test("the echo's own 503 passes through: exit 1, received-status", async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const report = await diagnose({ target: `${echo.url}/?status=503&retry_after=7` });
    const { verdict } = report.targets[0];
    assert.equal(report.exitCode, 1);
    assert.equal(verdict.outcome, 'upstream_error');
    assert.equal(verdict.status, 503);
    assert.equal(verdict.failure, null);
    assert.match(verdict.summary, /^the upstream answers, with its own 503 → Candor passes it through/);
    assert.match(verdict.fix, /retry after 7 s/);
  });

  test("a proxy's own 502 passes through, and the verdict says which proxy made it and for which hop", async () => {
    const refusing = await startRefusing();
    cleanups.push(() => refusing.close());
    const gw = await startTestGateway(
      singleUpstream(refusing.url, { upstream: '    retries: { attempts: 1 }' }),
    );
    cleanups.push(() => gw.close());
    const report = await diagnose({ target: `${gw.url}/orders` });
    const { verdict } = report.targets[0];
    assert.equal(report.exitCode, 1);
    assert.equal(verdict.outcome, 'upstream_error');
    assert.equal(verdict.status, 502);
    assert.equal(
      verdict.summary,
      'the upstream answers, with its own 502 (made by the proxy "edge-1" there: connection_refused for its next hop "app", from its Proxy-Status) → Candor passes it through (Proxy-Status received-status=502)',
    );
    assert.match(
      verdict.fix,
      /^the target is a proxy \("edge-1"\) that could not reach its own next hop "app": connection_refused \(connection refused \(ECONNREFUSED\) after [\d.]+ ms\)\. Fix that hop \(candor diagnose its address\), or read the proxy's log for this request \(x-request-id diagnose-[0-9a-f]+\)\.$/,
    );
  });

  test('a 200 HTML page that redirects at once (a portal) is a valid answer, and the fix names it', async () => {
    const page =
      '<html><head><meta http-equiv="refresh" content="0; url=http://login.portal.example/"></head></html>';
    const portal = await startRawFault(async (connection) => {
      await readRequest(connection);
      await connection.write(
        `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\n\r\n${page}`,
      );
    });
    cleanups.push(() => portal.close());
    const report = await diagnose({ target: portal.url });
    const { verdict } = report.targets[0];
    assert.equal(report.exitCode, 0);
    assert.equal(verdict.outcome, 'ok');
    assert.match(
      verdict.fix,
      /redirects at once to http:\/\/login\.portal\.example\/ .*intercepts the request/,
    );
  });

  test('--max-body stops reading past the cap and says so; it is not an error', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const report = await diagnose({ target: `${echo.url}/?bytes=300000&chunked=1`, maxBody: 64 * 1024 });
    const body = report.targets[0].steps.at(-1);
    assert.equal(report.exitCode, 0);
    assert.ok(body?.step === 'body' && body.ok);
    assert.equal(body.facts.capped, true);
    assert.equal(body.facts.complete, false);
    assert.ok(body.facts.bytes > 64 * 1024 && body.facts.bytes < 300_000);
    assert.match(body.summary, /stopped reading past --max-body 64KiB .*not an error/);
  });

  test('a healthy HTTPS upstream with --ca: TLS version, certificate, names', async () => {
    const https = await startHttpsEcho();
    cleanups.push(() => https.close());
    const report = await diagnose({ target: https.url, ca: https.caPath });
    const tls = report.targets[0].steps.find((step) => step.step === 'tls');
    assert.equal(report.exitCode, 0);
    assert.ok(tls?.step === 'tls' && tls.ok);
    assert.equal(tls.facts.verified, true);
    assert.match(tls.facts.protocol ?? '', /^TLSv1\.[23]$/);
    assert.equal(tls.facts.certificate?.subject, 'CN=localhost');
    assert.equal(tls.facts.certificate?.issuer, 'CN=Candor fault kit CA');
    assert.equal(tls.facts.certificate?.hostnameMatch, true);
  });

  test('the expired certificate is the finding, and its details are kept', async () => {
    const expired = await startExpiredCertificate();
    cleanups.push(() => expired.close());
    const report = await diagnose({ target: expired.url, ca: expired.caPath });
    const tls = report.targets[0].steps.at(-1);
    assert.ok(tls?.step === 'tls' && !tls.ok);
    assert.equal(tls.facts.verifyError, 'CERT_HAS_EXPIRED');
    assert.equal(tls.facts.certificate?.validTo, '2020-01-02');
    assert.equal(tls.facts.certificate?.subject, 'CN=localhost');
    assert.match(tls.notes.join('\n'), /expired on 2020-01-02/);
  });
});

/**
 * Raw answers where HTTP/1.1 parsers disagree (undici's llhttp among them), each sent then
 * followed by a FIN: diagnose must reach the verdict the gateway logs for the same bytes.
 */
const GZIPPED_OK = gzipSync('ok');

const AGREE: ReadonlyArray<readonly [string, string, string | null]> = [
  [
    'two different Content-Lengths',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'http_response_content_length',
  ],
  [
    'a Content-Length list that disagrees',
    'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!',
    'http_response_content_length',
  ],
  [
    'a Content-Length that is no number',
    'HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\nhello',
    'http_response_content_length',
  ],
  [
    'Transfer-Encoding in an HTTP/1.0 response',
    'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    'http_response_transfer_coding',
  ],
  [
    'Transfer-Encoding br, chunked',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n',
    'http_response_transfer_coding',
  ],
  [
    'two Transfer-Encoding fields, one a coding Candor cannot undo',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: br\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'http_response_transfer_coding',
  ],
  [
    'Transfer-Encoding gzip, chunked (decoded by the gateway)',
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${GZIPPED_OK.length.toString(16)}\r\n${GZIPPED_OK.toString('latin1')}\r\n0\r\n\r\n`,
    null,
  ],
  [
    'Transfer-Encoding gzip, chunked whose chunks are not gzip',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n7\r\nnotgzip\r\n0\r\n\r\n',
    'http_response_transfer_coding',
  ],
  [
    'Transfer-Encoding gzip, chunked cut inside its gzip stream',
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\n${GZIPPED_OK.subarray(0, 5).toString('latin1')}\r\n0\r\n\r\n`,
    'http_response_transfer_coding',
  ],
  [
    'a Content-Length twice, the same',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
    null,
  ],
  ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok', 'http_protocol_error'],
  [
    'obsolete line folding',
    'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok',
    'http_protocol_error',
  ],
  ['a status out of range', 'HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok', 'http_protocol_error'],
  ['HTTP/2.0 in the status line', 'HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok', 'http_protocol_error'],
  ['a 101 nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', 'http_protocol_error'],
  [
    'a bad field after a 100 Continue',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
    'http_protocol_error',
  ],
  [
    'a chunk-size line ending in a bare LF',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n',
    'http_protocol_error',
  ],
  [
    'chunk data longer than its size',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n',
    'http_response_transfer_coding',
  ],
  [
    'a chunk size of 14 hex digits',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\nx',
    'http_response_transfer_coding',
  ],
  [
    'a body shorter than its Content-Length',
    'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello',
    'http_response_incomplete',
  ],
  [
    'a chunked body cut by a FIN',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
    'http_response_incomplete',
  ],
  ['HTTP/1.2, read as 1.1', 'HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nok', null],
  ['whitespace before a colon', 'HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 2\r\n\r\nok', null],
  [
    "a 304 with the representation's Content-Length",
    'HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n',
    null,
  ],
  ['a close-delimited HTTP/1.0 body', 'HTTP/1.0 200 OK\r\n\r\nhello', null],
  [
    'chunks with extensions and trailers',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n',
    null,
  ],
];

describe('diagnose and the gateway agree on the bytes parsers disagree about', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('each answer gets the failure type the gateway logs, or passes as it does', async () => {
    const fault = await startRawFault(async (connection) => {
      const { path } = await readRequest(connection);
      await connection.end(Buffer.from(AGREE[Number(path.slice(1))][1], 'latin1'));
    });
    cleanups.push(() => fault.close());
    const gw = await startTestGateway(
      singleUpstream(fault.url, {
        // Every answer here is faulty on purpose: no ejection, no open circuit, one attempt each.
        upstream: [
          '    timeouts: { response: 1s, read: 1s }',
          '    outlier_detection: { consecutive_failures: 0 }',
          '    circuit_breaker: { consecutive_failures: 0 }',
          '    retries: { attempts: 1 }',
          '',
        ].join('\n'),
      }),
    );
    cleanups.push(() => gw.close());
    for (const [i, [name, , type]] of AGREE.entries()) {
      await request(gw.url, { path: `/${i}`, headers: { 'x-request-id': `agree-${i}` } });
      const logged = (await gw.logFor(`agree-${i}`)).error ?? null;
      const report = await diagnose({ target: `${fault.url}/${i}` });
      assert.equal(logged, type, `${name}: the gateway logs`);
      assert.equal(report.targets[0].verdict.failure?.type ?? null, type, `${name}: diagnose says`);
    }
  });
});

describe("diagnose words a certificate's name as the gateway does", () => {
  // Recorded in the walk of docs/hostile-peers.md ("candor explain and diagnose against nginx's
  // and HAProxy's own lines"): against other.example's certificate, checked against localhost,
  // the gateway said "it is for other.example, not for localhost" and diagnose's tls step "it
  // is for no DNS name, not for the target's address": the refusal reached diagnose as a bare
  // code, without the name checked and the certificate Node's check gives the gateway.
  test('a certificate for another host: the same words in the gateway details and the tls step', async () => {
    const fault = await startWrongHostCertificate();
    const gw = await startTestGateway(
      singleUpstream(fault.url, {
        upstream: `    tls: { ca: ${fault.caPath}, servername: localhost }\n    retries: { attempts: 1 }\n`,
      }),
    );
    try {
      await request(gw.url, { path: '/', headers: { 'x-request-id': 'wrong-host' } });
      const logged = await gw.logFor('wrong-host');
      assert.equal(logged.error, 'tls_certificate_error');
      assert.match(
        String(logged.details),
        /it is for other\.example, not for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
      );
      const named = await diagnose({ target: fault.url, ca: fault.caPath, host: 'localhost' });
      const tls = named.targets[0].steps.find((s) => s.step === 'tls');
      assert.match(
        tls?.summary ?? '',
        /it is for other\.example, not for localhost \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
      );
      // Checked against the target's IP (no name): said as the gateway says it, without the address.
      const bare = await diagnose({ target: fault.url, ca: fault.caPath });
      const bareTls = bare.targets[0].steps.find((s) => s.step === 'tls');
      assert.match(bareTls?.summary ?? '', /it is for other\.example, not for the target's address/);
    } finally {
      await gw.close();
      await fault.close();
    }
  });
});
