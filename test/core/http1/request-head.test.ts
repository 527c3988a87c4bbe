/**
 * The head Candor sends upstream owns its framing fields (src/core/http1/request-head.ts): a
 * streamed body whose length the client did not announce goes chunked, and says so; one whose
 * length was announced carries the client's Content-Length and nothing more.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { framingFields, serializeRequestHead } from '../../../src/core/http1/request-head.ts';

const POST = { method: 'POST', path: '/upload', headers: ['x-a', '1'] };

test('a streamed body of unannounced length is announced chunked', () => {
  const body = { kind: 'stream', lengthAnnounced: false } as const;
  assert.deepEqual(framingFields({ ...POST, body }), ['transfer-encoding', 'chunked']);
  assert.equal(
    serializeRequestHead({ ...POST, body }, 'app:80'),
    'POST /upload HTTP/1.1\r\nx-a: 1\r\nhost: app:80\r\ntransfer-encoding: chunked\r\n\r\n',
  );
});

test('a streamed body of announced length, a body read whole: no framing field of the hop', () => {
  const headers = ['content-length', '5'];
  assert.deepEqual(framingFields({ ...POST, headers, body: { kind: 'stream', lengthAnnounced: true } }), []);
  assert.deepEqual(framingFields({ ...POST, headers, body: { kind: 'buffer' } }), []);
});

test('a body-less POST that says nothing of its length gets content-length: 0', () => {
  assert.deepEqual(framingFields({ ...POST, body: { kind: 'none' } }), ['content-length', '0']);
});
