/**
 * Clients that left, told by when: before any answer (Candor's 499, nginx's 499, HAProxy's -1)
 * or while the answer's body streamed (Candor's 200 with `client_closed` at `body_streaming`,
 * HAProxy's `CD` after a 200). The report called all of them "client left before the answer":
 * through a real gateway, three HTTP/2 clients that cancelled their streams 200 ms into a
 * streamed 200 were told as having left before it. And HAProxy 2.6.12 (Debian 12, `option
 * httplog`, `option abortonclose`), as its syslog receiver wrote them: a client that left while
 * it waited for the server's head (`CH--`, which HAProxy logs as 400) and one that left 300 ms
 * into a streamed 200 (`CD--`).
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { explain } from './explain-fixture.ts';

const line = (path: string, status: number, stage: string) =>
  JSON.stringify({
    level: 'info',
    time: '2026-11-30T20:53:10.311Z',
    gateway: 'edge-1',
    path,
    protocol: 'HTTP/2',
    route: 'stream',
    upstream: 'stream',
    target: 'http://127.0.0.1:38417',
    status,
    error: 'client_closed',
    shape: 'client',
    flag: 'CC',
    stage,
    details: 'client closed the connection',
    client_aborted: true,
    attempts: 1,
    msg: 'request',
  });

test('a client that left mid-body is not told as one that left before the answer', async (t) => {
  const dir = tempDir('candor-explain-client-left-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'candor.log');
  await writeFile(
    file,
    `${[line('/stream/0', 200, 'body_streaming'), line('/stream/1', 200, 'body_streaming'), line('/stream/2', 499, 'sent')].join('\n')}\n`,
  );
  const report = await explain([file]);
  assert.equal(report.clientAborted, 3);
  assert.equal(report.clientAbortedMidAnswer, 2);
  const text = renderText(report);
  assert.match(text, /\n {2}client left before the answer +1\n/);
  assert.match(text, /\n {2}client left during the answer's body +2\n/);
});

test("HAProxy's CH is a client gone before the answer, its CD after the head one gone during the body", async (t) => {
  const dir = tempDir('candor-explain-client-left-haproxy-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'haproxy.log');
  await writeFile(
    file,
    [
      '<134>Nov 30 20:53:02 haproxy[19499]: 127.0.0.1:59416 [30/Nov/2026:20:53:02.022] fe be_leave/s1 0/0/0/-1/300 400 206 - - CH-- 1/1/0/0/0 0/0 "GET /leave/0 HTTP/1.1"',
      '<134>Nov 30 20:53:03 haproxy[19499]: 127.0.0.1:59434 [30/Nov/2026:20:53:02.926] fe be_stream/s1 0/0/0/20/301 200 14110 - - CD-- 1/1/0/0/0 0/0 "GET /stream/0 HTTP/1.1"',
    ].join('\n'),
  );
  const report = await explain([file]);
  assert.equal(report.clientAborted, 2);
  assert.equal(report.clientAbortedMidAnswer, 1);
});
