/**
 * `candor diagnose` and HTTP/2: h2c and h2 targets probed over HTTP/2 with the gateway's own
 * session code, and the report saying when a target speaks only one of HTTP/1.1 and HTTP/2.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { createTextPrinter } from '../../../src/kits/diagnose/render-text.ts';
import type { DiagnoseOptions } from '../../../src/kits/diagnose/targets.ts';
import { h2Answer, h2Refuse, startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startHttpsEcho } from '../../../src/kits/fault-kit/tls-faults.ts';
import { closeAfterAll } from '../../helpers/keep.ts';

const keep = closeAfterAll();

const quick = { connectTimeout: 1000, answerTimeout: 1000, readTimeout: 1000 };

async function run(options: DiagnoseOptions) {
  let text = '';
  const printer = createTextPrinter((chunk) => (text += chunk), { color: false });
  const report = await diagnose({ ...quick, ...options }, printer.events);
  return { report, target: report.targets[0], text };
}

describe('candor diagnose over HTTP/2', () => {
  test('h2c: the request goes as an HTTP/2 stream; the target is reported as speaking only HTTP/2', async () => {
    const upstream = await keep(startH2(h2Answer));
    const { report, target, text } = await run({ target: `${upstream.url}/health`, protocol: 'h2c' });
    assert.equal(report.exitCode, 0);
    assert.equal(target.verdict.outcome, 'ok');
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
    assert.match(text, /✓ request {2}GET \/health over HTTP\/2 \(h2c\)/);
    assert.match(text, /✓ response HTTP\/2 200, \d+ headers/);
    assert.equal(upstream.received[0].httpVersion, '2.0');
    assert.equal(upstream.received[0].path, '/health');
    assert.deepEqual(target.protocols && { http1: target.protocols.http1, h2: target.protocols.h2 }, {
      http1: false,
      h2: true,
    });
    assert.match(
      text,
      /protocols: HTTP\/1\.1 no, HTTP\/2 \(h2c, prior knowledge\) yes: the target speaks only HTTP\/2/,
    );
  });

  test('h2c to an HTTP/1.1-only target: 502 http_protocol_error, and the fix says to set protocol http1', async () => {
    const upstream = await keep(startEcho());
    const { report, target } = await run({ target: upstream.url, protocol: 'h2c' });
    assert.equal(report.exitCode, 2);
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.equal(target.verdict.status, 502);
    assert.equal(target.protocols?.http1, true);
    assert.equal(target.protocols?.h2, false);
    assert.match(
      target.verdict.fix,
      /^the target speaks HTTP\/1\.1 but not HTTP\/2 \(h2c, prior knowledge\)\. Set the upstream's protocol to http1/,
    );
  });

  test('HTTP/1.1 to an h2c-only target: the HTTP/2 frame is named, and the fix says to set protocol h2c', async () => {
    const upstream = await keep(startH2(h2Answer));
    const { target } = await run({ target: upstream.url });
    assert.equal(target.verdict.failure?.type, 'http_protocol_error');
    assert.equal(target.verdict.identified, 'an HTTP/2-only server (h2c)');
    assert.equal(target.protocols?.h2, true);
    assert.equal(target.protocols?.http1, false);
    assert.match(
      target.verdict.fix,
      /^the target speaks HTTP\/2 \(h2c, prior knowledge\) but not HTTP\/1\.1\. Set the upstream's protocol to h2c\.$/,
    );
    assert.equal(upstream.received.length, 0, 'no HTTP/1.1 request was taken as a stream');
  });

  test('h2 over TLS: ALPN selects h2, the answer is read; the target refuses http/1.1 by ALPN', async () => {
    const upstream = await keep(startH2(h2Answer, { tls: true }));
    const { target, text } = await run({
      target: upstream.url.replace('127.0.0.1', 'localhost'),
      protocol: 'h2',
      ca: upstream.caPath,
    });
    assert.equal(target.verdict.outcome, 'ok', text);
    assert.match(text, /✓ tls {6}TLSv1\.3, h2, certificate/);
    assert.equal(target.protocols?.h2, true);
    assert.equal(target.protocols?.http1, false);
    assert.match(
      target.protocols?.summary ?? '',
      /HTTP\/2 \(h2, by ALPN\) yes: the target speaks only HTTP\/2/,
    );
  });

  test('h2 to an HTTPS server without HTTP/2: the TLS step fails on ALPN and the fix says protocol http1', async () => {
    const upstream = await keep(startHttpsEcho());
    const { target } = await run({
      target: upstream.url.replace('127.0.0.1', 'localhost'),
      protocol: 'h2',
      ca: upstream.caPath,
    });
    assert.equal(target.steps.at(-1)?.step, 'tls');
    assert.equal(target.verdict.failure?.type, 'tls_alert_received');
    assert.equal(target.protocols?.http1, true);
    assert.equal(target.protocols?.h2, false);
    assert.match(target.verdict.fix, /^the target speaks HTTP\/1\.1 but not HTTP\/2 \(h2, by ALPN\)\./);
  });

  test('a refused stream is named as the gateway names it', async () => {
    const upstream = await keep(startH2(h2Refuse));
    const { target } = await run({ target: upstream.url, protocol: 'h2c' });
    assert.equal(target.verdict.failure?.type, 'connection_terminated');
    assert.match(target.verdict.failure?.details ?? '', /refused the stream \(REFUSED_STREAM\)/);
    assert.equal(target.protocols?.h2, true);
  });

  test('--protocol that does not fit the scheme is refused before anything is probed', async () => {
    await assert.rejects(
      diagnose({ target: 'http://127.0.0.1:1/', protocol: 'h2' }),
      /--protocol h2 is HTTP\/2 over TLS/,
    );
    await assert.rejects(
      diagnose({ target: 'https://127.0.0.1:1/', protocol: 'h2c' }),
      /--protocol h2c is HTTP\/2 in the clear/,
    );
  });

  test('as a child process, an h2c probe keeps the process alive until its answer, and exits 0', async () => {
    const upstream = await keep(startH2(h2Answer));
    const bin = join(import.meta.dirname, '../../../bin/candor.js');
    const child = spawn(process.execPath, [bin, 'diagnose', `${upstream.url}/cli`, '--protocol', 'h2c'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /✓ body {5}\d+ bytes, DATA frames, complete/);
    assert.match(out, /protocols: HTTP\/1\.1 no, HTTP\/2 \(h2c, prior knowledge\) yes/);
  });
});
