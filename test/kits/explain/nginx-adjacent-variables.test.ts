/**
 * A log_format with two variables side by side and nothing between them cannot be split: the
 * line does not say where one ends. explain does not read such a pair rather than read a wrong
 * value into it (an empty $upstream_addr made an upstream's own 503 "made by the proxy").
 * The line was written by the real nginx 1.22.1 (an upstream's own 503, passed through).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nginxFormatReader, unreadable } from '../../../src/kits/explain/readers/nginx-log-format.ts';

const format = {
  name: 'adj',
  escape: 'default' as const,
  text: '$remote_addr$remote_user[$time_local]"$request"$status$upstream_status$upstream_addr$request_time',
};

test('variables run together are not read: an upstream 503 is not made "by the proxy"', () => {
  const reader = nginxFormatReader(format, 'nginx:adj', 'adj');
  const record = reader.read(
    '127.0.0.1-[22/Nov/2026:11:58:53 +0000]"GET /own503 HTTP/1.1"503503127.0.0.1:180810.000',
  );
  assert.ok(record !== undefined && record.kind === 'request');
  assert.equal(record.status, 503);
  assert.equal(record.producedBy, undefined, 'who made it cannot be told from this line');
  assert.equal(record.target, undefined);
  assert.equal(record.joinKey, undefined, '$remote_addr runs into $remote_user: no client to join on');
  assert.match(reader.blindSpot ?? '', /\$upstream_status\$upstream_addr/);
});

test('a format whose $status runs into another variable cannot be read', () => {
  assert.match(
    unreadable({ ...format, text: '[$time_local] $request_time$status' }) ?? '',
    /\$request_time\$status/,
  );
  assert.equal(unreadable({ ...format, text: '[$time_local] $status$body_bytes_sent' }), undefined);
});
