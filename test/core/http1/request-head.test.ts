/**
 * The head Candor sends upstream owns its framing fields (src/core/http1/request-head.ts): a
 * streamed body whose length the client did not announce goes chunked, and says so; one whose
 * length was announced carries the client's Content-Length and nothing more. Both head
 * serializers keep the field lines of the heads before, by place (field-line-memo.ts): whatever
 * came before, each head is the same bytes as the one written from scratch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serializeAnswerHead } from '../../../src/core/http1/answer-head.ts';
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

function fieldLines(headers: readonly string[]): string {
  let text = '';
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return text;
}

/** Heads one after the other: the same, one field changed, one more, one fewer, a name's case, an empty value, 40 fields (past the places kept). */
const SEQUENCE: string[][] = [
  ['Host', 'a.test', 'via', '1.1 edge', 'x-request-id', '1'],
  ['Host', 'a.test', 'via', '1.1 edge', 'x-request-id', '2'],
  ['Host', 'a.test', 'via', '1.1 edge', 'x-request-id', '2'],
  ['Host', 'b.test', 'via', '1.1 edge', 'x-request-id', '3'],
  ['Host', 'b.test', 'via', '1.1 edge', 'x-request-id', '3', 'accept', '*/*'],
  ['Host', 'b.test', 'via', '1.1 edge'],
  ['host', 'b.test', 'via', '1.1 edge'],
  ['host', 'b.test', 'via', ''],
  ['host', 'b.test', 'via', ''],
  Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? `x-f${i >> 1}` : 'same')),
  Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? `x-f${i >> 1}` : 'same')),
  Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? `x-f${i >> 1}` : i === 79 ? 'other' : 'same')),
  ['Host', 'a.test'],
  [],
  ['Host', 'a.test'],
];

/**
 * 300 heads in which one field is another each time for 150, then the same, then another every
 * third: a place that keeps changing is compared again only after a while, and still never
 * writes what it remembered for a field that is not it.
 */
const CHURN: string[][] = Array.from({ length: 300 }, (_, k) => [
  'Host',
  'a.test',
  'x-id',
  k < 150 ? `id-${k}` : k < 220 ? 'settled' : `id-${Math.floor(k / 3)}`,
  'via',
  '1.1 edge',
]);

test('a request head is the same bytes whatever heads went before it', () => {
  for (const headers of [...SEQUENCE, ...SEQUENCE.toReversed(), ...CHURN]) {
    const request = { method: 'GET', path: '/p', headers, body: { kind: 'none' } } as const;
    const host = headers.some((name, i) => i % 2 === 0 && name.toLowerCase() === 'host')
      ? ''
      : 'host: x:1\r\n';
    assert.equal(
      serializeRequestHead(request, 'x:1'),
      `GET /p HTTP/1.1\r\n${fieldLines(headers)}${host}\r\n`,
    );
  }
});

test('an answer head is the same bytes whatever heads went before it, its status line too', () => {
  const statuses: [number, string][] = [
    [200, 'OK'],
    [200, 'OK'],
    [200, 'Fine'],
    [404, 'Fine'],
    [404, ''],
  ];
  let k = 0;
  for (const headers of [...SEQUENCE, ...SEQUENCE.toReversed(), ...CHURN]) {
    const [status, reason] = statuses[k % statuses.length];
    // This hop's lines around the fields, or none (an upstream's Date said, a Connection said).
    const before = k % 2 === 0 ? 'date: d\r\n' : '';
    const after = k++ % 3 === 0 ? '' : 'connection: close\r\n';
    assert.equal(
      serializeAnswerHead(status, reason, headers, before, after),
      `HTTP/1.1 ${status} ${reason}\r\n${before}${fieldLines(headers)}${after}\r\n`,
    );
  }
});
