/**
 * `candor explain` tells a failure by who made the answer, not by its type alone: the route's own
 * files (a static route's 404, a file cut mid-send), the gateway's own decision (maintenance's
 * 503, a rate limit's 429), a plugin's own answer (its 500), the route's auth hop (its 502), each
 * in the words of what happened, never as an upstream that failed ("add a route", "the upstream is
 * crashing", "its own logs"). The lines are a real gateway's, written for real requests; a burst is
 * then laid out on a minute of timeline, since a storm is a rate over time a test cannot wait for.
 */
import assert from 'node:assert/strict';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { renderText } from '../../../src/kits/explain/render-text.ts';
import type { Report } from '../../../src/kits/explain/report.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { Plugin } from '../../../src/proxy/stages/plugin-api.ts';
import { request } from '../../helpers/http-client.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { explain } from './explain-fixture.ts';

let lines: LogLine[];
const line = (find: (l: LogLine) => boolean): LogLine => {
  const found = lines.find(find);
  assert.ok(found, JSON.stringify(lines));
  return found;
};

/** A GET of a big file, read slowly: the file is truncated once the first bytes came. */
function cutGet(gw: TestGateway, file: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(gw.port, '127.0.0.1');
    let cut = false;
    socket.on('data', () => {
      if (cut) return;
      cut = true;
      socket.pause();
      truncateSync(file, 1024 * 1024);
      setTimeout(() => socket.resume(), 50);
    });
    socket.on('close', () => resolve());
    socket.on('error', () => {});
    socket.write('GET /files/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
}

before(async () => {
  const dir = tempDir('candor-explain-who-');
  const root = join(dir, 'site');
  mkdirSync(root);
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 1));
  const echo = await startEcho();
  const refusing = await startRefusing();
  const p500: Plugin = () => ({ onRequest: () => ({ status: 500, body: 'the plugin says no\n' }) });
  const gw = await startTestGateway(
    `name: edge-1
plugins:
  p500: { module: /nonexistent/p500.ts }
routes:
  - { name: files, match: { path: /files }, static: { root: ${root} } }
  - { name: closed, match: { path: /closed }, upstream: app, maintenance: { retry_after: 90s, message: Closed. } }
  - { name: limited, match: { path: /limited }, upstream: app, rate_limit: { rate: 1, burst: 1 } }
  - { name: plug, match: { path: /plug }, upstream: app, plugins: [p500] }
  - { name: authd, match: { path: /authd }, upstream: app, auth: { forward: { url: "${refusing.url}" } } }
  - { name: app, match: { path: /app }, upstream: app }
upstreams:
  app: { targets: [{ url: ${echo.url} }] }
`,
    {},
    '',
    { plugins: { p500 } },
  );
  try {
    const want: Array<[string, number]> = [
      ['/app', 200],
      ['/files/none.txt', 404],
      ['/files/none.txt', 404],
      ['/files/none.txt', 404],
      ['/nowhere', 404],
      ['/closed', 503],
      ['/limited', 200],
      ['/limited', 429],
      ['/plug', 500],
      ['/authd', 502],
    ];
    for (const [path, status] of want) assert.equal((await request(gw.url, { path })).status, status, path);
    await cutGet(gw, join(root, 'big.bin'));
    await gw.accessLine(want.length + 1);
  } finally {
    await gw.close();
    await echo.close();
    await refusing.close();
  }
  lines = gw.logs.filter((l) => l.msg === 'request');
});

async function report(of: readonly LogLine[]): Promise<Report> {
  const file = join(tempDir('candor-explain-who-'), 'candor.log');
  writeFileSync(file, `${of.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return explain([file], { bucketMs: 1000 });
}

/** A minute of answered requests, one a second, and `burst` 12 times in its seconds 30 to 32. */
function minuteWithBurst(burst: LogLine): Promise<Report> {
  const start = Date.UTC(2026, 10, 24, 10, 0, 0);
  const answered = line((l) => l.path === '/app');
  const at = (ms: number, l: LogLine, n: number) => ({
    ...l,
    time: new Date(start + ms).toISOString(),
    req_id: `r-${n}`,
  });
  const out: LogLine[] = [];
  for (let s = 0; s < 60; s++) out.push(at(s * 1000 + 500, answered, s));
  for (let i = 0; i < 12; i++) out.push(at(30_000 + i * 250, burst, 100 + i));
  out.sort((a, b) => (String(a.time) < String(b.time) ? -1 : 1));
  return report(out);
}

const checksOf = (text: string) => text.slice(text.indexOf('What to check first'));

test("a static route's 404 is told as no file under its root, apart from a request no route matched", async () => {
  const files404 = line((l) => l.path === '/files/none.txt');
  assert.equal(files404.variant, 'static_file_not_found');
  assert.equal(line((l) => l.path === '/nowhere').variant, undefined);
  const r = await report(lines.filter((l) => l.status === 404));
  const row = r.shapes.flatMap((s) => s.types).find((t) => t.type === 'destination_not_found');
  assert.deepEqual(row?.upstreams, [
    { upstream: 'files (route files)', count: 3 },
    { upstream: '-', count: 1 },
  ]);
  const checks = checksOf(renderText(r));
  assert.match(checks, /\n {4}likely: no file under the route's root answers this path\n/);
  assert.match(checks, /\n {4}check: {2}[^\n]*root[^\n]*\n/);
  assert.doesNotMatch(checks, /\n {4}(likely|check):[^\n]*add a route/i);
  // The one no route matched keeps its own words.
  assert.match(checks, /\n {4}also: {3}destination_not_found \(1\): Check the URL, or add a route for it/);
});

test("a static file cut mid-send is the route's own file, not a crashing upstream to read the logs of", async () => {
  const cut = line((l) => l.error === 'http_response_incomplete');
  assert.equal(cut.variant, 'own_file_cut');
  const r = await report([cut]);
  const reset = r.shapes.find((s) => s.shape === 'reset');
  assert.equal(reset?.likelyCause, 'the file being sent could not be read whole');
  assert.notEqual(reset?.headline, 'the upstream is crashing');
  assert.deepEqual(reset?.types[0].upstreams, [{ upstream: 'files (route files)', count: 1 }]);
  const checks = checksOf(renderText(r));
  assert.doesNotMatch(checks, /upstream is crashing|upstream's own logs/);
});

test("maintenance's 503s are the gateway's own decision: no storm nor failure of the route's upstream", async () => {
  const closed = line((l) => l.path === '/closed');
  assert.equal(closed.upstream, 'app');
  const r = await minuteWithBurst(closed);
  assert.deepEqual(
    r.upstreams.filter((u) => u.name === 'app').map((u) => [u.requests, u.errors5xx, u.failures]),
    [[60, 0, 0]],
  );
  assert.deepEqual(
    r.storms.map((s) => s.upstream),
    ['gateway (route closed)'],
  );
  assert.doesNotMatch(renderText(r), /look at the upstream itself/);
});

test("a rate limit's 429 is placed at the gateway's route, not at the upstream it names", async () => {
  const limited = line((l) => l.status === 429);
  const r = await report([limited]);
  const row = r.shapes.flatMap((s) => s.types).find((t) => t.type === 'http_request_denied');
  assert.deepEqual(row?.upstreams, [{ upstream: 'gateway (route limited)', count: 1 }]);
});

test("a plugin's own 500 is the plugin's answer: not the upstream's own 5xx, no storm of the upstream", async () => {
  const plug = line((l) => l.path === '/plug');
  assert.equal(plug.answered_by, 'plugin:p500');
  const r = await minuteWithBurst(plug);
  assert.equal(r.upstreamOwn5xx, 0);
  assert.equal(r.unexplained5xx, 0);
  assert.deepEqual(r.pluginOwn5xx, [{ plugin: 'plugin:p500', count: 12 }]);
  assert.deepEqual(
    r.storms.map((s) => s.upstream),
    ['plugin:p500'],
  );
  const text = renderText(r);
  assert.doesNotMatch(text, /upstream's own 5xx|upstream's own logs/);
  assert.match(checksOf(text), /plugin:p500/);
});

test("an auth hop's 502 is told as the auth hop's failure, never as the route's upstream", async () => {
  const authd = line((l) => l.path === '/authd');
  const r = await report([authd]);
  const unreachable = r.shapes.find((s) => s.shape === 'unreachable');
  assert.match(String(unreachable?.likelyCause), /auth hop/);
  assert.match(String(unreachable?.firstCheck), /^The route's auth hop failed, not its upstream/);
  assert.notEqual(unreachable?.headline, 'the upstream is not there');
});
