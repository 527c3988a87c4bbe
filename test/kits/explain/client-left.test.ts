/**
 * Clients that left, told by when: before any answer (Candor's 499, nginx's 499, HAProxy's -1)
 * or while the answer's body streamed (Candor's 200 with `client_closed` at `body_streaming`,
 * HAProxy's `CD` after a 200). The report called all of them "client left before the answer":
 * through a real gateway, three HTTP/2 clients that cancelled their streams 200 ms into a
 * streamed 200 were told as having left before it.
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
