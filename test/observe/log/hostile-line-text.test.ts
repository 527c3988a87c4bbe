/**
 * What a client sends that reaches the access line (method, host, path) as hostile clients send
 * it: bytes 0x00–0x1f, DEL, bytes past ASCII that are no UTF-8, a quote, a backslash, a bare LF
 * with a line of JSON after it, U+2028, 64 KiB of path, a method of 40 characters, and HTTP/2's
 * `:path` holding an emoji's UTF-8. Every line must stay one line of valid UTF-8 that JSON.parse
 * reads, one a request, and hold what was sent: a byte past ASCII is the character of that code
 * (U+0080–U+00FF), so the bytes are the field's Latin-1 encoding. nginx's `escape=json` writes
 * such bytes as they came (a line no strict UTF-8 reader takes); HAProxy writes them as `#XX`.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { startGateway } from '../../../src/server/gateway/gateway.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { scriptedUpstream } from '../../helpers/scripted-upstream.ts';
import { withOwnStateHome } from '../../helpers/test-gateway.ts';

const latin1 = (bytes: Buffer) => bytes.toString('latin1');
const head = (target: Buffer | string, fields = 'host: a') =>
  Buffer.concat([
    Buffer.from('GET '),
    Buffer.from(target as string, 'latin1'),
    Buffer.from(` HTTP/1.1\r\n${fields}\r\nconnection: close\r\n\r\n`, 'latin1'),
  ]);
const utf8 = (text: string) => Buffer.from(text, 'utf8');

test('hostile bytes in the method, host and path: one valid JSON line a request, holding the bytes sent', async () => {
  const origin = await scriptedUpstream((socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'),
  );
  const { parsed: config } = withOwnStateHome(() =>
    parseConfig(
      `listen:
  - address: 127.0.0.1:0
    http2: true
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${origin.url}
`,
      '<test>',
      {},
    ),
  );
  const written: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(Buffer.from(chunk));
      done();
    },
  });
  const gw = await startGateway(config, { logger: createLoggerOn(sink, 'info', 'edge-1') });
  const port = gw.listeners[0].port();
  const emoji = latin1(utf8('/emoji-😀'));
  const sent: Array<[Buffer, Record<string, string>]> = [
    [
      head(Buffer.concat([Buffer.from('/p'), Buffer.from([0x80, 0xff, 0xc3, 0xa9])])),
      { path: '/p\x80\xff\xc3\xa9' },
    ],
    [head('/a\x01b\x1b[31m'), { path: '/a\x01b\x1b[31m' }],
    [head('/a\x7fb'), { path: '/a\x7fb' }],
    // A CSI as one byte (C1's 0x9b), which a terminal showing the line obeys as ESC [ .
    [head('/a\x9b31mb'), { path: '/a\x9b31mb' }],
    [head('/a"b\\c'), { path: '/a"b\\c' }],
    [head('/a\n{"level":"info","msg":"request","path":"/forged"}'), { path: '/a' }],
    [head(latin1(utf8('/a\u2028b\u2029'))), { path: '/a\u00e2\u0080\u00a8b\u00e2\u0080\u00a9' }],
    [head(`/${'a'.repeat(65536)}`), { path: `/${'a'.repeat(255)}` }],
    [head('/', 'host: a"b\\'), { host: 'a"b\\' }],
    [head('/', 'host: a\xff\xfe'), { host: 'a\xff\xfe' }],
    [
      Buffer.from(`${'M'.repeat(40)} /hidden HTTP/1.1\r\nhost: a\r\n\r\n`),
      { method: 'M'.repeat(40), path: '/hidden' },
    ],
  ];
  try {
    for (const [bytes] of sent) await rawRequest(port, bytes);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    await new Promise<void>((resolve) => {
      // node:http2 writes a string's characters as bytes: these are the emoji's UTF-8.
      const stream = session.request({ ':path': emoji });
      stream.resume();
      stream.on('close', resolve);
    });
    session.close();
  } finally {
    await gw.close();
    await origin.close();
  }
  const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(written));
  const lines = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
  const requests = lines.filter((line) => line.msg === 'request');
  // What JSON.stringify leaves raw and a terminal obeys or turns around (C1, DEL, bidi overrides)
  // or a reader splits lines at (U+2028/2029) is written as a \u escape: the same JSON value.
  assert.doesNotMatch(text, /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  assert.equal(requests.length, sent.length + 1, 'one line a request, none forged');
  for (const [i, [, fields]] of sent.entries())
    for (const [name, value] of Object.entries(fields))
      assert.equal(requests[i][name], value, `${i}: ${name}`);
  assert.equal(requests[sent.length].path, emoji);
  assert.equal(Buffer.from(requests[sent.length].path, 'latin1').toString('utf8'), '/emoji-😀');
});
