/**
 * The downstream HTTP/2 server with the clients people use: Debian's curl (HTTP/2 by prior
 * knowledge, and by ALPN over TLS) and nghttp (nghttp2-client), against a tiny echo session
 * wired here. Skipped where the tools are missing (.ci/run installs them).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasTool, runTool as run } from '../../../helpers/cli-tools.ts';
import { startH2Fixture } from './h2-fixture.ts';

const curl = hasTool('curl');
const nghttp = hasTool('nghttp');

test('curl --http2-prior-knowledge: HTTP/2 on a plain port, with a body', {
  skip: !curl && 'curl missing',
}, async () => {
  const fx = await startH2Fixture();
  try {
    const r = await run('curl', [
      '-sS',
      '--http2-prior-knowledge',
      '-D',
      '-',
      '-H',
      'x-from: curl',
      '--data-binary',
      'hello',
      `http://127.0.0.1:${fx.port}/echo?q=1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^HTTP\/2 200 ?\r\n/);
    const seen = JSON.parse(r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4));
    assert.equal(seen.method, 'POST');
    assert.equal(seen.target, '/echo?q=1');
    assert.equal(seen.body, 'hello');
    assert.deepEqual(seen.headers.slice(0, 2), ['host', `127.0.0.1:${fx.port}`]);
    assert.equal(seen.headers[seen.headers.indexOf('x-from') + 1], 'curl');
  } finally {
    await fx.close();
  }
});

test('curl --http2 over TLS negotiates h2 by ALPN; --http1.1 gets HTTP/1.1 on the same port', {
  skip: !curl && 'curl missing',
}, async () => {
  const fx = await startH2Fixture({ tls: true });
  try {
    const caFile = `${process.env.TMPDIR ?? '/tmp'}/candor-h2-ca-${process.pid}.pem`;
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(caFile, fx.ca ?? '');
    try {
      const h2 = await run('curl', [
        '-sS',
        '--http2',
        '--cacert',
        caFile,
        '-D',
        '-',
        `https://localhost:${fx.port}/tls`,
      ]);
      assert.equal(h2.code, 0, h2.stderr);
      assert.match(h2.stdout, /^HTTP\/2 200 ?\r\n/);
      const h1 = await run('curl', [
        '-sS',
        '--http1.1',
        '--cacert',
        caFile,
        '-D',
        '-',
        `https://localhost:${fx.port}/tls`,
      ]);
      assert.equal(h1.code, 0, h1.stderr);
      assert.match(h1.stdout, /^HTTP\/1\.1 200 OK\r\n/);
    } finally {
      rmSync(caFile, { force: true });
    }
  } finally {
    await fx.close();
  }
});

test('curl sees a response cut after its head as an error, never as whole', {
  skip: !curl && 'curl missing',
}, async () => {
  const fx = await startH2Fixture({
    handle: (exchange) => {
      exchange.answer.sendHead(200, 'OK', ['content-type', 'text/plain']);
      exchange.answer.write(Buffer.from('first part'));
      setTimeout(() => exchange.answer.abort(), 20);
    },
  });
  try {
    const r = await run('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${fx.port}/cut`]);
    // 92: CURLE_HTTP2_STREAM, "stream error in the HTTP/2 framing layer".
    assert.equal(r.code, 92, r.stderr);
    assert.match(r.stderr, /INTERNAL_ERROR/);
  } finally {
    await fx.close();
  }
});

test('nghttp: h2c by prior knowledge, the answer and its trailer frame by frame', {
  skip: !nghttp && 'nghttp missing',
}, async () => {
  const fx = await startH2Fixture();
  try {
    const r = await run('nghttp', ['-v', '-H', 'x-from: nghttp', `http://127.0.0.1:${fx.port}/frames`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /recv \(stream_id=\d+\) :status: 200/);
    assert.match(r.stdout, /recv \(stream_id=\d+\) x-body-bytes: 0/);
    assert.match(r.stdout, /"target":"\/frames"/);
    assert.doesNotMatch(r.stdout, /RST_STREAM/);
  } finally {
    await fx.close();
  }
});
