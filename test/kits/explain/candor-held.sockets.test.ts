/**
 * A held request (`upstreams.*.hold`) waited for a target to come back before its attempt went:
 * its `ttfb_ms` and `total_ms` count that wait, and `held_ms` says how long it was. The wait on
 * the upstream is the rest. `candor explain` reads the upstream's wait from those fields to tell
 * which timeout cut a request and how slow the upstream answers (issue 32: every answer of the
 * tools is true; issue 35's hold): a request held 800 ms that a 300 ms response timeout cut was
 * told as cut by "a timeout of about 1.1 s".
 *
 * The lines are a real gateway's: a request held while the upstream's port refused, then sent
 * to an upstream that accepts and never answers.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Report } from '../../../src/kits/explain/report.ts';
import { roundNear } from '../../../src/kits/explain/timeout-advice.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type LogLine, singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { explain } from './explain-fixture.ts';

let line: LogLine;
let report: Report;

before(async () => {
  const port = await freePort();
  const edge = await startTestGateway(
    singleUpstream(`http://127.0.0.1:${port}`, {
      upstream: '    hold: { timeout: 10s }\n    timeouts: { response: 300ms }\n',
    }),
  );
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket));
  try {
    const answer = request(edge.url, { path: '/one', timeoutMs: 10_000 });
    await waitUntil('held', () => (edge.gateway.runtime().upstreams.get('app')?.hold.size ?? 0) === 1);
    await sleep(800);
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    assert.equal((await answer).status, 504);
    line = await edge.accessLine(1);
  } finally {
    await edge.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
  assert.equal(line.error, 'http_response_timeout');
  assert.ok((line.held_ms as number) >= 500, JSON.stringify(line));
  const file = join(tempDir('candor-explain-held-'), 'candor.log');
  writeFileSync(file, `${JSON.stringify(line)}\n`);
  report = await explain([file]);
});

test('the wait a timeout cut is the wait on the upstream, the hold left out', () => {
  const [finding] = report.timeouts;
  assert.equal(finding?.upstream, 'app');
  // Its own try's wait: the refused tries before the hold, their backoff and the hold are not.
  const tries = line.tries as { error: string; ms: number }[];
  assert.equal(tries.at(-1)?.error, 'http_response_timeout');
  assert.equal(finding?.waited?.min, tries.at(-1)?.ms);
  // The timeout explain names is read off that wait (300 ms here, a little more on a loaded
  // machine), never off the hold's: the request waited more than 800 ms in all.
  assert.equal(finding?.configuredMs, roundNear(tries.at(-1)?.ms as number));
  assert.ok((finding?.configuredMs as number) < 500, JSON.stringify(finding));
});
