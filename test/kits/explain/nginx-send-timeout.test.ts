/**
 * nginx's `proxy_send_timeout` passing ("upstream timed out … while sending request to
 * upstream": the upstream took none of the request body for that long) is RFC 9209's
 * connection_write_timeout, Candor's `timeouts.send`; not a wait for the response head
 * (http_response_timeout), which nginx logs "while reading response header from upstream".
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain, typeCounts } from './explain-fixture.ts';

test("nginx's proxy_send_timeout is connection_write_timeout; its read of the head timing out stays http_response_timeout", async () => {
  const at = (n: number, phase: string) =>
    `2026/11/21 13:11:0${n} [error] 2817#2817: *${n} upstream timed out (110: Connection timed out) while ${phase}, client: 127.0.0.1, server: localhost, request: "POST /up/${n} HTTP/1.1", upstream: "http://10.0.0.5:80/up/${n}", host: "gw"`;
  const path = join(tempDir('candor-nginx-'), 'error.log');
  writeFileSync(
    path,
    `${[
      at(0, 'sending request to upstream'),
      at(1, 'sending request to upstream'),
      at(2, 'reading response header from upstream'),
    ].join('\n')}\n`,
  );
  const report = await explain([path]);
  assert.deepEqual(typeCounts(report), { connection_write_timeout: 2, http_response_timeout: 1 });
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.failures]),
    [['10.0.0.5:80', 3]],
  );
});
