/**
 * The head serializers keep the field lines of the heads before, by place
 * (src/core/http1/field-line-memo.ts): whatever came before, each head is the same bytes as
 * the one written from scratch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serializeAnswerHead } from '../../../src/core/http1/answer-head.ts';
import { serializeRequestHead } from '../../../src/core/http1/request-head.ts';

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

test('a request head is the same bytes whatever heads went before it', () => {
  for (const headers of [...SEQUENCE, ...SEQUENCE.toReversed()]) {
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
  for (const headers of [...SEQUENCE, ...SEQUENCE.toReversed()]) {
    const [status, reason] = statuses[k++ % statuses.length];
    assert.equal(
      serializeAnswerHead(status, reason, headers, 'date: d\r\n', 'connection: close\r\n'),
      `HTTP/1.1 ${status} ${reason}\r\ndate: d\r\n${fieldLines(headers)}connection: close\r\n\r\n`,
    );
  }
});
