/**
 * `candor diagnose` against HTTP/2 targets that fail, each a real server misbehaving: the
 * failure named in the taxonomy's words as over HTTP/1.1, what answered when it was not HTTP/2,
 * the fix that fits, and the protocol in the report and its JSON. The whole text is asserted,
 * with only timings, ports and request ids made constant.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { createTextPrinter } from '../../../src/kits/diagnose/render-text.ts';
import type { DiagnoseOptions } from '../../../src/kits/diagnose/targets.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';
import {
  h2Answer,
  h2Hang,
  h2InterimFlood,
  h2RequireHttp1,
  h2ResetAfterHead,
  h2ResetBeforeHead,
  h2ResetConnection,
  startH2,
  startH2GoawayFirst,
  startH2RawStatus,
} from '../../../src/kits/fault-kit/h2-faults.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { startHttpsEcho } from '../../../src/kits/fault-kit/tls-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { closeAfterAll } from '../../helpers/keep.ts';

const keep = closeAfterAll();

/** A node:net server running `onData` on each connection's bytes; sockets are cut at close. */
async function startNet(
  onData: (socket: net.Socket, chunk: Buffer) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => onData(socket, chunk));
  });
  const port = await listenLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const quick = { connectTimeout: 1000, answerTimeout: 1000, readTimeout: 1000 };

async function run(options: DiagnoseOptions) {
  let text = '';
  const printer = createTextPrinter((chunk) => (text += chunk), { color: false });
  const report = await diagnose({ ...quick, ...options }, printer.events);
  return { report, target: report.targets[0], text: normalize(text) };
}

/** Timings, ports and request ids vary from run to run; everything else is asserted as printed. */
function normalize(text: string): string {
  return text
    .replace(/\d+(\.\d+)? ms\b/g, 'N ms')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/diagnose-[0-9a-f]{16}/g, 'diagnose-ID')
    .replace(/date: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT/g, 'date: DATE');
}

describe('candor diagnose: HTTP/2 targets that fail', () => {
  test('h2c to a server that answers the preface with HTTP/1.1: garbage, the status line shown escaped, fix protocol http1', async () => {
    const upstream = await keep(
      startNet((socket) =>
        socket.end('HTTP/1.1 400 Bad\x1b[31mRequest\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      ),
    );
    const { report, target, text } = await run({ target: `${upstream.url}/health`, protocol: 'h2c' });
    assert.equal(report.exitCode, 2);
    assert.equal(target.protocol, 'h2c');
    assert.equal(target.verdict.identified, 'an HTTP/1.x server');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET /health over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        "  ✗ response the upstream's answer is not valid HTTP/2 (Protocol error) after N ms\n",
        '             second look: it answers the HTTP/2 connection preface with "HTTP/1.1 400 Bad\\x1b[31mRequest": an HTTP/1.x server\n',
        'protocols: HTTP/1.1 yes, HTTP/2 (h2c, prior knowledge) no: the target speaks only HTTP/1.1\n',
        'verdict: garbage / http_protocol_error → Candor answers 502\n',
        "fix: the target speaks HTTP/1.1 but not HTTP/2 (h2c, prior knowledge). Set the upstream's protocol to http1 (the default), or enable HTTP/2 on the target.\n",
      ].join(''),
    );
  });

  test('h2c to a server that answers the preface with nonsense: garbage, what it sent named', async () => {
    const upstream = await keep(startNet((socket) => socket.end('HELLO? WHO GOES THERE\r\n')));
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        "  ✗ response the upstream's answer is not valid HTTP/2 (Protocol error) after N ms\n",
        '             second look: HELLO? WHO GOES THERE: something that does not speak HTTP\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) no\n',
        'verdict: garbage / http_protocol_error → Candor answers 502\n',
        'fix: something else is on that port: something that does not speak HTTP (it sent "HELLO? WHO GOES THERE"). Point the target at the HTTP service\'s port, or move that service.\n',
      ].join(''),
    );
  });

  test('h2c to a server that takes the connection and never answers the preface: the timeout says so', async () => {
    const upstream = await keep(startNet(() => {}));
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c', answerTimeout: 200 });
    assert.equal(target.verdict.failure?.type, 'http_response_timeout');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✗ response no response head (response timeout of N ms) after N ms; the upstream never sent its HTTP/2 preface (SETTINGS): no HTTP/2 server answered on that connection\n',
        'protocols: HTTP/1.1 no answer, HTTP/2 (h2c, prior knowledge) no answer\n',
        'verdict: slow / http_response_timeout → Candor answers 504\n',
        "fix: the target took the connection but never answered the HTTP/2 connection preface (no SETTINGS frame in N ms): it does not speak HTTP/2 in the clear (h2c), or it is stuck. Check what serves this port; if it speaks HTTP/1.1, set the upstream's protocol to http1.\n",
      ].join(''),
    );
  });

  test('h2c with nothing listening: connection_refused, in the same words as HTTP/1.1', async () => {
    const refusing = await keep(startRefusing());
    const { target, text } = await run({ target: `${refusing.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_refused');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✗ connect  connection refused (ECONNREFUSED) after N ms\n',
        'verdict: unreachable / connection_refused → Candor answers 502\n',
        'fix: nothing listens on 127.0.0.1:PORT. Start the upstream, or fix the port in the target URL.\n',
      ].join(''),
    );
  });

  test('GOAWAY before the request was processed: connection_terminated, and the gateway would retry it', async () => {
    const upstream = await keep(startH2GoawayFirst());
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_terminated');
    assert.equal(target.verdict.failure?.stage, 'not_sent');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✗ response the upstream sent GOAWAY (NO_ERROR, last stream 0) before processing this request after N ms\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: reset / connection_terminated → Candor answers 502\n',
        'fix: the upstream said GOAWAY (NO_ERROR, last stream 0) before processing the request: it is shutting down or restarting. The gateway retries a request the upstream never processed, on another connection, whatever its method; if every probe meets this, the upstream is stuck going away: look in its own logs, or restart it.\n',
      ].join(''),
    );
  });

  test('GOAWAY ENHANCE_YOUR_CALM covering the request: the connection closed, named as such (not a head too large)', async () => {
    const upstream = await keep(
      startH2((stream) => {
        stream.session?.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, stream.id);
        setTimeout(() => stream.session?.destroy(), 50);
      }),
    );
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_terminated');
    assert.equal(
      text
        .split('\n')
        .filter((line) => /^ {2}✗|^fix:/.test(line))
        .join('\n'),
      [
        '  ✗ response the upstream closed the HTTP/2 connection (GOAWAY ENHANCE_YOUR_CALM, last stream 1) before the response head after N ms',
        "fix: the upstream closed the HTTP/2 connection (GOAWAY ENHANCE_YOUR_CALM) after taking the request, without an answer: it is crashing or restarting, or took the client for a misbehaving one (the GOAWAY's code says which). Look in its own logs (x-request-id diagnose-ID).",
      ].join('\n'),
    );
  });

  test('RST_STREAM before the head: the code named, the fix points at the handler', async () => {
    const upstream = await keep(startH2(h2ResetBeforeHead));
    const { target, text } = await run({ target: `${upstream.url}/work`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_terminated');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET /work over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✗ response stream reset by the upstream (INTERNAL_ERROR) before the response head after N ms\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: reset / connection_terminated → Candor answers 502\n',
        'fix: the upstream reset the stream (INTERNAL_ERROR) after taking the request, without an answer: its handler failed or gave up. Look in its own logs (x-request-id diagnose-ID) for this request.\n',
      ].join(''),
    );
  });

  test('RST_STREAM after the head: the body step fails, http_response_incomplete', async () => {
    const upstream = await keep(startH2(h2ResetAfterHead));
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'http_response_incomplete');
    assert.equal(target.verdict.status, 200);
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✓ response HTTP/2 200, 3 headers, first byte after N ms\n',
        '             content-type: text/plain\n',
        '             content-length: 100\n',
        '             date: DATE\n',
        '  ✗ body     response body cut short: stream reset by the upstream (INTERNAL_ERROR) after N ms (10 of 100 bytes, DATA frames)\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: reset / http_response_incomplete → Candor passes the 200 head on, then aborts the transfer (logged as http_response_incomplete)\n',
        'fix: the upstream sent the 200 head and 10 of 100 body bytes, then reset the stream (INTERNAL_ERROR): it is crashing mid-response. Look in its own logs (x-request-id diagnose-ID) for a crash, an OOM kill or a restart.\n',
      ].join(''),
    );
  });

  test('HTTP_1_1_REQUIRED: http_protocol_error, fix protocol http1', async () => {
    const upstream = await keep(startH2(h2RequireHttp1));
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        "  ✗ response the upstream asks for HTTP/1.1 (HTTP_1_1_REQUIRED): set the upstream's protocol to http1 after N ms\n",
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: garbage / http_protocol_error → Candor answers 502\n',
        "fix: the upstream asks for HTTP/1.1 for this request (HTTP_1_1_REQUIRED). Set the upstream's protocol to http1.\n",
      ].join(''),
    );
  });

  test('a stream with no head within the response timeout: http_response_timeout, as over HTTP/1.1', async () => {
    const upstream = await keep(startH2(h2Hang));
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c', answerTimeout: 200 });
    assert.equal(target.verdict.failure?.type, 'http_response_timeout');
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✗ response no response head (response timeout of N ms) after N ms\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: slow / http_response_timeout → Candor answers 504\n',
        'fix: the upstream took the request but sent no response head in N ms (the response timeout): it is too slow or stuck. Find what it waits on (a slow query, a lock, CPU); raise timeouts.response only if the work is legitimately that slow.\n',
      ].join(''),
    );
  });

  test('more interim answers than the gateway relays: the first 16 kept, a note says so', async () => {
    const upstream = await keep(
      startH2((stream) => {
        for (let i = 0; i < 20; i++) stream.additionalHeaders({ ':status': 103, link: `</s${i}.css>` });
        stream.respond({ ':status': 204 });
        stream.end();
      }),
    );
    const { target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.outcome, 'ok');
    const response = target.steps.find((step) => step.step === 'response');
    assert.deepEqual(response?.step === 'response' && response.facts.informational, Array(16).fill(103));
    assert.equal(
      text,
      [
        '  ✓ dns      127.0.0.1 (IP literal, no lookup)\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✓ request  GET / over HTTP/2 (h2c) (:authority 127.0.0.1:PORT, x-request-id diagnose-ID), 10 fields\n',
        '  ✓ response HTTP/2 204, 1 headers, first byte after N ms\n',
        '             20 interim (1xx) answers, before the final head: the gateway relays the first 16 (at most 64 KiB) and drops the rest, reading on until its response timeout\n',
        '             date: DATE\n',
        '  ✓ body     no body (none expected), in N ms\n',
        'protocols: HTTP/1.1 no, HTTP/2 (h2c, prior knowledge) yes: the target speaks only HTTP/2\n',
        'verdict: the upstream answers 204 → Candor passes it through\n',
        'fix: none needed: the upstream answers as an HTTP server should.\n',
      ].join(''),
    );
  });

  // The gateway's 502 for it is right (http_protocol_error, the 32 KiB head limit), but the fix was
  // the taxonomy's generic one, "Check what is listening on the target port: it may be another
  // service": it is the HTTP server the target should be, never ending its interim answers.
  test('interim answers without end and no final one: 502 http_protocol_error, and a fix that names the flood', async () => {
    const upstream = await keep(startH2(h2InterimFlood));
    const { report, target, text } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(report.exitCode, 2);
    // Its note said the gateway reads on "until its response timeout": it gives up at the limit.
    assert.doesNotMatch(text, /reading on until its response timeout/);
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.equal(target.verdict.status, 502);
    assert.match(
      target.verdict.fix,
      /^the upstream sent \d+ interim \(1xx\) answers and no final one, past the gateway's response head limit \(32 KiB\): it speaks HTTP, but never ends its 103 Early Hints or 100 Continue\. Fix it to send its final answer after them; look in its own logs \(x-request-id diagnose-[0-9a-f]{16}\)\.$/,
    );
  });

  // Both fixes sent the operator to look for another service on the port ("Check what is
  // listening on the target port", "does not speak HTTP (a database, a cache…)"), though the
  // target had answered the HTTP/2 preface with its SETTINGS: it is the HTTP/2 server.
  test('a head HTTP/2 forbids (a :status that is no number): 502 http_protocol_error, and a fix for an HTTP/2 server', async () => {
    const upstream = await keep(startH2RawStatus('abc'));
    const { target } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.match(
      target.verdict.fix,
      /^the upstream speaks HTTP\/2, but the stream ended in PROTOCOL_ERROR before the response head: its head breaks HTTP\/2's rules \(no :status or one that is no number, a connection-specific field, an upper-case name, a content-length that is not one number, or one on a 1xx or 204\), or it found the request malformed\. Look in its own logs \(x-request-id diagnose-[0-9a-f]{16}\) for this request, and at the code that writes its response head\.$/,
    );
  });

  test('an HTTP/2 connection cut (TCP reset, no GOAWAY) before the head: 502 connection_terminated, no word of another service', async () => {
    const upstream = await keep(startH2(h2ResetConnection));
    const { target } = await run({ target: `${upstream.url}/`, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_terminated');
    assert.match(
      target.verdict.fix,
      /^the upstream (reset|closed) its HTTP\/2 connection, without a GOAWAY, after taking the request and before an answer: it is crashing or restarting\. Look in its own logs \(x-request-id diagnose-[0-9a-f]{16}\) for a crash, an OOM kill or a restart\.$/,
    );
  });

  test('h2 over TLS with a certificate no CA vouches for: tls_certificate_error, as over HTTP/1.1', async () => {
    const upstream = await keep(startH2(h2Answer, { tls: true }));
    const { target } = await run({ target: upstream.url.replace('127.0.0.1', 'localhost'), protocol: 'h2' });
    assert.equal(target.verdict.failure?.type, 'tls_certificate_error');
    assert.equal(target.verdict.summary, 'unreachable / tls_certificate_error → Candor answers 502');
  });

  test('h2 to a TLS target whose ALPN offers no h2: the TLS step fails, and the fix says protocol http1', async () => {
    const upstream = await keep(startHttpsEcho());
    const { target, text } = await run({
      target: upstream.url.replace('127.0.0.1', 'localhost'),
      protocol: 'h2',
      ca: upstream.caPath,
    });
    assert.equal(target.verdict.failure?.type, 'tls_alert_received');
    assert.equal(
      text.replace(/localhost → .* in N ms/, 'localhost → ADDRESSES in N ms'),
      [
        '  ✓ dns      localhost → ADDRESSES in N ms\n',
        '  ✓ connect  127.0.0.1:PORT in N ms\n',
        '  ✗ tls      TLS alert no_application_protocol received after N ms\n',
        'protocols: HTTP/1.1 yes, HTTP/2 (h2, by ALPN) no: the target speaks only HTTP/1.1\n',
        'verdict: unreachable / tls_alert_received → Candor answers 502\n',
        "fix: the target speaks HTTP/1.1 but not HTTP/2 (h2, by ALPN). Set the upstream's protocol to http1 (the default), or enable HTTP/2 on the target.\n",
      ].join(''),
    );
  });

  test('http1 over TLS to a target that offers h2 too: the protocols line says so; one without h2 gets none', async () => {
    const { localhost, caPath } = testCertificates();
    const both = http2.createSecureServer({ ...localhost, allowHTTP1: true }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    const port = await listenLoopback(both as unknown as net.Server);
    await keep({ close: () => new Promise<void>((resolve) => both.close(() => resolve())) });
    const offered = await run({ target: `https://localhost:${port}/`, ca: caPath });
    assert.equal(offered.target.verdict.outcome, 'ok');
    assert.equal(offered.target.protocol, 'http1');
    assert.equal(
      offered.target.protocols?.summary,
      'HTTP/1.1 yes, HTTP/2 (h2, by ALPN) yes: the target also speaks HTTP/2 (protocol: h2 would use it)',
    );
    assert.match(
      offered.text,
      /\nprotocols: HTTP\/1\.1 yes, HTTP\/2 \(h2, by ALPN\) yes: the target also speaks HTTP\/2 \(protocol: h2 would use it\)\nverdict: /,
    );

    const plain = await keep(startHttpsEcho());
    const only = await run({ target: plain.url.replace('127.0.0.1', 'localhost'), ca: plain.caPath });
    assert.equal(only.target.verdict.outcome, 'ok');
    assert.equal(only.target.protocols, undefined);
    assert.doesNotMatch(only.text, /protocols:/);
  });

  test('--json carries the protocol of every probe', async () => {
    const upstream = await keep(startH2(h2Answer));
    const bin = join(import.meta.dirname, '../../../bin/candor.js');
    const child = spawn(
      process.execPath,
      [bin, 'diagnose', `${upstream.url}/json`, '--protocol', 'h2c', '--json'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    const report = JSON.parse(out);
    assert.equal(report.targets[0].protocol, 'h2c');
    assert.equal(report.targets[0].protocols.h2, true);
    assert.equal(report.targets[0].steps[2].summary.startsWith('GET /json over HTTP/2 (h2c)'), true);
  });
});
