/**
 * A plugin that answers with a Response the global `fetch()` (undici) made of a coded upstream
 * answer: undici hands it the decoded body with the upstream's `Content-Encoding` left on, so the
 * client must get that body without the field (and a weak ETag, no digest of the coded bytes).
 * A Response of context.fetch is the upstream's bytes as they came, and keeps its coding.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const TEXT = 'hello from a coded upstream '.repeat(20);

/** The upstream: `/gzip`, `/deflate`, `/br`, `/zstd`, `/both` (deflate then gzip), `/odd` (gzip, then a coding undici does not know). */
function coded(path: string): { coding: string; body: Buffer } {
  const raw = Buffer.from(TEXT);
  if (path === '/deflate') return { coding: 'deflate', body: zlib.deflateSync(raw) };
  if (path === '/zstd') return { coding: 'zstd', body: zlib.zstdCompressSync(raw) };
  if (path === '/br') return { coding: 'br', body: zlib.brotliCompressSync(raw) };
  if (path === '/both') return { coding: 'deflate, gzip', body: zlib.gzipSync(zlib.deflateSync(raw)) };
  if (path === '/odd') return { coding: 'gzip, x-own', body: zlib.gzipSync(raw) };
  return { coding: 'gzip', body: zlib.gzipSync(raw) };
}

describe('a plugin answering with a Response of the global fetch of a coded answer', () => {
  let upstream: http.Server;
  let base = '';
  let gw: TestGateway;
  const relay: Plugin = (_o, ctx) => ({
    async onRequest(r) {
      if (r.path.startsWith('/own')) return ctx.fetch('app', '/gzip', { request: r });
      return fetch(`${base}${r.path}`, { method: r.method });
    },
  });
  before(async () => {
    upstream = http.createServer((req, res) => {
      const { coding, body } = coded(req.url ?? '/');
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': coding,
        'content-length': body.length,
        etag: '"v1"',
        'content-digest': 'sha-256=:AAAA:',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gw = await startTestGateway(
      `plugins:
  relay: { module: /nonexistent/relay.ts, timeout: 2s }
routes:
  - { name: r, match: { path: / }, upstream: app, plugins: [relay] }
upstreams:
  app: { targets: [{ url: ${base} }] }
`,
      {},
      '',
      { plugins: { relay } },
    );
  });
  after(async () => {
    await gw?.close();
    await new Promise((r) => upstream?.close(r));
  });

  for (const path of ['/gzip', '/deflate', '/br', '/zstd', '/both'])
    test(`${path}: the decoded body, told as identity`, async () => {
      const res = await request(gw.url, { path });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.text, TEXT);
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(TEXT)));
      assert.equal(res.headers.etag, 'W/"v1"');
      assert.equal(res.headers['content-digest'], undefined);
      assert.equal(res.headers['content-type'], 'text/plain');
    });

  test('a HEAD: told as its GET is, without the coding', async () => {
    const res = await request(gw.url, { path: '/gzip', method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.etag, 'W/"v1"');
  });

  test('a coding undici does not know: the bytes as they came, with their field', async () => {
    const res = await request(gw.url, { path: '/odd' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip, x-own');
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(zlib.gunzipSync(res.body).toString(), TEXT);
  });

  test("context.fetch's answer: the upstream's coded bytes and fields, untouched", async () => {
    const res = await request(gw.url, { path: '/own' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers.etag, '"v1"');
    assert.equal(zlib.gunzipSync(res.body).toString(), TEXT);
  });
});
