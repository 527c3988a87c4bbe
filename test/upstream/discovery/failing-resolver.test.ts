/**
 * A discovery runner against a real DNS server on loopback that keeps failing: it asks again
 * later and later (interval doubled at each failure in a row, up to max_ttl, spread ±20 %),
 * the first answer starts it over, and a failure whose reason changes is told again. The
 * delay is read from the runner's schedule (`nextQuestionIn`), never timed.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { DiscoveryConfig } from '../../../src/core/config/types.ts';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { type DiscoveryOutcome, DnsDiscovery } from '../../../src/upstream/discovery/dns-discovery.ts';
import { exhaustDescriptors } from '../../helpers/descriptors.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { closeAll } from '../../helpers/keep.ts';
import { waitUntil } from '../../helpers/wait.ts';

let dns: DnsServer;
const runners: DnsDiscovery[] = [];
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  for (const runner of runners) runner.stop();
  await closeAll(dns);
});

type Line = Record<string, unknown>;

/**
 * A runner on `name` (interval 40 ms, max_ttl 400 ms), with what it reported, scheduled and
 * logged; `replaces`: the runner a reload replaces with it (its report kept, and its failures in
 * a row when it asked the same name, as Discoveries gives them).
 */
function follow(name: string, replaces?: DnsDiscovery) {
  const config: DiscoveryConfig = {
    dns: name,
    type: 'A',
    port: 8080,
    scheme: 'http',
    resolvers: [dns.address],
    interval: 40,
    minTtl: 10,
    maxTtl: 400,
    allow: [],
    maxTargets: 512,
  };
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      callback();
    },
  });
  const seen: { outcome: DiscoveryOutcome; failure: string | null; next: number | undefined }[] = [];
  const runner: DnsDiscovery = new DnsDiscovery(
    'api',
    config,
    createLoggerOn(sink, 'info', 'test'),
    (report, outcome) => seen.push({ outcome, failure: report.failure, next: runner.nextQuestionIn }),
    [],
    replaces?.report,
    replaces?.config.dns === name ? replaces.failedInARow : undefined,
  );
  runners.push(runner);
  const failedLines = () => lines.filter((l) => l.msg === 'discovery failed: the last good targets are kept');
  return { runner, seen, lines, failedLines };
}

const within = (value: number | undefined, low: number, high: number) =>
  assert.ok(value !== undefined && value >= low && value <= high, `${value} not within ${low}…${high}`);

test('failures in a row are asked again later and later, up to max_ttl, spread ±20 %; one line while the reason stays', async () => {
  dns.set('down.test', 'servfail');
  const { seen, failedLines } = follow('down.test');
  await waitUntil('six failed questions', () => seen.length >= 6, 10_000);
  const next = seen.map((s) => s.next);
  within(next[0], 32, 48);
  within(next[1], 64, 96);
  within(next[2], 128, 192);
  within(next[3], 256, 384);
  // 640 ms is past max_ttl: max_ttl, spread below it (the re-asks keep drifting apart there).
  within(next[4], 320, 400);
  within(next[5], 320, 400);
  assert.deepEqual(
    seen.slice(0, 6).map((s) => s.failure),
    Array(6).fill('ESERVFAIL'),
  );
  assert.equal(failedLines().length, 1);
});

test('a failure whose reason changes is told again (with the reason it had); the answer that comes back is told once and starts the backoff over', async () => {
  dns.set('flaky.test', 'nxdomain');
  const { seen, lines, failedLines } = follow('flaky.test');
  await waitUntil('three failed questions', () => seen.length >= 3, 10_000);
  dns.set('flaky.test', 'servfail');
  await waitUntil('a SERVFAIL', () => seen.at(-1)?.failure === 'ESERVFAIL', 10_000);
  dns.set('flaky.test', []);
  await waitUntil('an empty answer', () => seen.at(-1)?.failure === 'empty', 10_000);
  const failuresBefore = seen.length;
  dns.set('flaky.test', [{ type: 'A', address: '10.0.0.1', ttl: 30 }]);
  await waitUntil('answering', () => seen.at(-1)?.outcome === 'changed', 10_000);
  // A TTL of 30 s is held to max_ttl; its spread never goes past it.
  within(seen.at(-1)?.next, 360, 400);
  assert.deepEqual(
    failedLines().map((l) => [l.failure, l.was]),
    [
      ['ENOTFOUND', null],
      ['ESERVFAIL', 'ENOTFOUND'],
      ['empty', 'ESERVFAIL'],
    ],
  );
  const again = lines.filter((l) => l.msg === 'discovery answering again');
  assert.equal(again.length, 1);
  assert.equal(again[0].failed_questions, failuresBefore);

  dns.set('flaky.test', 'servfail');
  await waitUntil('failing again', () => seen.at(-1)?.failure === 'ESERVFAIL', 10_000);
  within(seen.at(-1)?.next, 32, 48);
  assert.equal(failedLines().length, 4);
  assert.equal(failedLines()[3].was, null);
});

test('a runner that takes over a failing set (a reload that changed discovery) starts its backoff fresh', async () => {
  dns.set('reload.test', 'servfail');
  const first = follow('reload.test');
  await waitUntil('four failed questions', () => first.seen.length >= 4, 10_000);
  first.runner.stop();
  const seen: (number | undefined)[] = [];
  const runner: DnsDiscovery = new DnsDiscovery(
    'api',
    { ...first.runner.config, interval: 50 },
    createLoggerOn(new Writable({ write: (_c, _e, cb) => cb() }), 'info', 'test'),
    () => seen.push(runner.nextQuestionIn),
    [],
    first.runner.report,
  );
  runners.push(runner);
  await waitUntil('its first question failed', () => seen.length >= 1, 10_000);
  within(seen[0], 40, 60);
});

test('a reload that moves discovery to another name while the old one fails: the new name’s first answer is no “answering again”', async () => {
  dns.set('old.test', 'servfail');
  dns.set('new.test', [{ type: 'A', address: '10.0.0.9', ttl: 30 }]);
  const first = follow('old.test');
  await waitUntil('two failed questions', () => first.seen.length >= 2, 10_000);
  first.runner.stop();
  const moved = follow('new.test', first.runner);
  await waitUntil('the new name answered', () => moved.seen.length >= 1, 10_000);
  assert.equal(moved.seen[0].failure, null);
  assert.deepEqual(
    moved.lines.filter((l) => l.msg === 'discovery answering again'),
    [],
  );
  assert.deepEqual(
    moved.lines.map((l) => l.msg),
    ['discovered targets changed'],
  );
});

test('a reload that keeps the failing name (another interval): its answer is “answering again” with the failed questions of both runners', async () => {
  dns.set('same.test', 'servfail');
  const first = follow('same.test');
  await waitUntil('three failed questions', () => first.seen.length >= 3, 10_000);
  first.runner.stop();
  const failed = first.runner.failedInARow;
  assert.equal(failed, first.seen.length);
  dns.set('same.test', [{ type: 'A', address: '10.0.0.8', ttl: 30 }]);
  const again = follow('same.test', first.runner);
  await waitUntil('the name answered', () => again.seen.length >= 1, 10_000);
  const lines = again.lines.filter((l) => l.msg === 'discovery answering again');
  assert.equal(lines.length, 1);
  assert.equal(lines[0].failed_questions, failed);
});

test('a question the process has no descriptor for is told as the gateway’s want, not as the DNS server refusing', async () => {
  dns.set('fd.test', [{ type: 'A', address: '10.0.0.7', ttl: 1 }]);
  const { seen, failedLines } = follow('fd.test');
  await waitUntil('the first answer', () => seen.length >= 1, 10_000);
  assert.equal(seen[0].failure, null);
  // RLIMIT_NOFILE lowered with prlimit to the descriptors the process holds: c-ares has no socket
  // for the next question, and says ECONNREFUSED.
  const release = exhaustDescriptors();
  try {
    await waitUntil('a failed question', () => seen.length >= 2, 10_000);
  } finally {
    release();
  }
  assert.equal(seen[1].failure, 'EMFILE');
  const [line] = failedLines();
  assert.equal(line?.failure, 'EMFILE');
  assert.match(
    String(line?.err),
    /^no file descriptor left for the DNS question \(EMFILE: the process's open-file limit; the resolver said [A-Z_]+\)$/,
  );
  assert.deepEqual(line?.kept, ['http://10.0.0.7:8080']);
  await waitUntil('answering again', () => seen.at(-1)?.failure === null, 10_000);
});
