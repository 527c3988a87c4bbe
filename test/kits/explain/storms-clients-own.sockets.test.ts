/**
 * A burst of 504s the clients' own deadlines made (gRPC's grpc-timeout: client_deadline) is no
 * storm of the upstream's (issue 32, item 4 of its tester's findings): the tables tell them with
 * "the clients' own doing", and storm detection agrees. The same burst of the upstream's own
 * failures (connection_refused) is one.
 *
 * The lines are a real gateway's, written for real requests; each is then laid out on a minute
 * of timeline (a quiet minute, a burst of 12 in its middle), since a storm is a rate over time
 * that a test cannot wait for.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { explain, typeCounts } from './explain-fixture.ts';

/** A gRPC message frame: not compressed, its length, its bytes. */
const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

/** One gRPC call over HTTP/2 with the client's deadline; resolves when the stream ends. */
async function grpcCall(gw: TestGateway, path: string, deadline: string): Promise<void> {
  const client = http2.connect(gw.url);
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': deadline,
      });
      stream.resume();
      stream.on('end', resolve);
      stream.on('error', reject);
      stream.end(message);
    });
  } finally {
    client.close();
  }
}

/** The request lines of the gateway: one answered, one cut by the client's deadline, one refused. */
let answered: LogLine;
let clientDeadline: LogLine;
let refused: LogLine;
/** A request with Cache-Control: only-if-cached for a page not stored: the gateway's 504, the upstream not asked. */
let notCached: LogLine;

before(async () => {
  const echo = await startEcho();
  const silent = await startRawFault(async (c) => {
    await c.nextRequest();
    await new Promise(() => {});
  });
  const refusing = await startRefusing();
  const gw = await startTestGateway(
    `name: edge-1
routes:
  - match: { path: /silent }
    upstream: api
  - match: { path: /refused }
    upstream: api-refused
  - match: { path: /cached }
    upstream: web
    cache: {}
  - upstream: web
upstreams:
  web:
    targets: [{ url: ${echo.url} }]
  api:
    targets: [{ url: ${silent.url} }]
    timeouts: { response: 10s, total: 10s }
    retries: { attempts: 1 }
  api-refused:
    targets: [{ url: ${refusing.url} }]
    retries: { attempts: 1 }
`,
    {},
    'http2: true',
  );
  try {
    assert.equal((await request(gw.url, { path: '/page' })).status, 200);
    await grpcCall(gw, '/silent/pkg.Svc/Call', '100m');
    assert.equal((await request(gw.url, { path: '/refused/page' })).status, 502);
    const onlyIfCached = await request(gw.url, {
      path: '/cached/page',
      headers: { 'cache-control': 'only-if-cached' },
    });
    assert.equal(onlyIfCached.status, 504);
    await gw.accessLine(4);
  } finally {
    await gw.close();
    await echo.close();
    await silent.close();
    await refusing.close();
  }
  const lines = gw.logs.filter((line) => line.msg === 'request');
  answered = lines.find((line) => line.status === 200) as LogLine;
  clientDeadline = lines.find((line) => line.error === 'client_deadline') as LogLine;
  refused = lines.find((line) => line.error === 'connection_refused') as LogLine;
  notCached = lines.find((line) => line.error === 'only_if_cached') as LogLine;
  assert.ok(answered && clientDeadline && refused && notCached, JSON.stringify(lines));
  assert.equal(echo.received.length, 1, 'only the answered request reached the upstream');
  assert.equal(clientDeadline.status, 504);
});

/** A minute of answered requests, one a second, and `burst` 12 times in its seconds 30 to 32. */
async function minuteWithBurst(burst: LogLine): Promise<Report> {
  const start = Date.UTC(2026, 10, 24, 10, 0, 0);
  const at = (ms: number, line: LogLine, n: number) =>
    JSON.stringify({ ...line, time: new Date(start + ms).toISOString(), req_id: `r-${n}` });
  const out: string[] = [];
  for (let s = 0; s < 60; s++) out.push(at(s * 1000 + 500, answered, s));
  for (let i = 0; i < 12; i++) out.push(at(30_000 + i * 250, burst, 100 + i));
  out.sort((a, b) => (JSON.parse(a).time < JSON.parse(b).time ? -1 : 1));
  const file = join(tempDir('candor-explain-own-'), 'candor.log');
  writeFileSync(file, `${out.join('\n')}\n`);
  return explain([file], { bucketMs: 1000 });
}

test("a burst of the upstream's own failures is a storm of the upstream's", async () => {
  const report = await minuteWithBurst(refused);
  assert.deepEqual(
    report.storms.map((s) => [s.upstream, s.errors, s.types]),
    [['api-refused', 12, [{ type: 'connection_refused', count: 12 }]]],
  );
});

test("the same burst of the clients' own deadlines is no storm: the clients' doing, as the tables say", async () => {
  const report = await minuteWithBurst(clientDeadline);
  assert.deepEqual(report.storms, []);
  assert.equal(typeCounts(report).client_deadline, 12);
  assert.deepEqual(
    report.shapes.find((shape) => shape.types.some((t) => t.type === 'client_deadline'))?.shape,
    'client',
  );
});

test("a burst of only-if-cached misses is no storm and no failure of the upstream's: the client asked for the cache alone, the upstream was not contacted", async () => {
  const report = await minuteWithBurst(notCached);
  assert.equal(notCached.upstream, 'web');
  assert.deepEqual(report.storms, []);
  assert.equal(typeCounts(report).only_if_cached, 12);
  assert.deepEqual(
    report.shapes.find((shape) => shape.types.some((t) => t.type === 'only_if_cached'))?.shape,
    'client',
  );
  assert.deepEqual(
    report.upstreams.map((u) => [u.name, u.failures]),
    [['web', 0]],
  );
});
