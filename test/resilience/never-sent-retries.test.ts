/**
 * Requests that never reached the upstream (refused at connect) are retried on another
 * target from the first request of a fresh gateway: the retry budget has a floor of retries
 * per second, so a quiet gateway that has earned few tokens still retries. And a retry that
 * is not made says why, in the log line's `retry_skipped`.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { startEcho } from '../../src/kits/fault-kit/http-servers.ts';
import { startResetBeforeHead } from '../../src/kits/fault-kit/reset-faults.ts';
import { startRefusing } from '../../src/kits/fault-kit/unreachable-faults.ts';
import { request } from '../helpers/http-client.ts';
import { type LogLine, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const pool = (urls: string[], extra = '') => `name: edge-1
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${urls.map((url) => `      - url: ${url}`).join('\n')}
${extra}`;

type Try = { target: string; status?: number; error?: string; stage?: string };

/** Sends `total` GETs, `concurrency` at a time over keep-alive; returns each one's status, in order sent. */
async function load(gw: TestGateway, total: number, concurrency: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: number[] = new Array(total);
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      const n = ++sent;
      statuses[n - 1] = await new Promise<number>((resolve, reject) => {
        http
          .get(`${gw.url}/item/${n}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return statuses;
}

/** The access-log lines whose first attempt was refused: each must have gone on to another target and got its 200. */
function assertRefusedRetried(gw: TestGateway, refusingUrl: string): LogLine[] {
  const lines = gw.logs.filter((l) => l.msg === 'request');
  const refused = lines.filter((l) => l.target === refusingUrl || (l.attempts as number) > 1);
  for (const line of refused) {
    const tries = line.tries as Try[];
    assert.equal(line.status, 200, JSON.stringify(line));
    assert.equal(line.attempts, 2);
    assert.equal(tries[0].target, refusingUrl);
    assert.equal(tries[0].error, 'connection_refused');
    assert.equal(tries[0].stage, 'not_sent');
    assert.notEqual(tries[1].target, refusingUrl, 'the retry went to another target');
    assert.equal(tries[1].status, 200);
    assert.equal(line.retry_skipped, undefined);
  }
  return refused;
}

test('a fresh gateway retries every refused GET, beyond what its first requests earned', async () => {
  const refusing = await startRefusing();
  const [a, b] = await Promise.all([startEcho(), startEcho()]);
  // Ejection off: the refusing target keeps its third of the traffic, so the retries needed
  // (one per three requests) outrun what the ratio earns (3 + 0.2 per request).
  const gw = await startTestGateway(
    pool([a.url, b.url, refusing.url], '    outlier_detection: { consecutive_failures: 0 }\n'),
  );
  try {
    const total = 30;
    const statuses = await load(gw, total, 1);
    assert.deepEqual(
      statuses,
      statuses.map(() => 200),
    );
    const refused = assertRefusedRetried(gw, refusing.url);
    assert.ok(refused.length >= 10, `${refused.length} requests were refused first`);
    assert.equal(a.received.length + b.received.length, total);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

test('300 GETs at 10 concurrent over three targets, one refusing: every one is a 200', async () => {
  const refusing = await startRefusing();
  const [a, b] = await Promise.all([startEcho(), startEcho()]);
  const gw = await startTestGateway(pool([a.url, b.url, refusing.url]));
  try {
    const statuses = await load(gw, 300, 10);
    const errors = statuses.flatMap((s, i) => (s === 200 ? [] : [`#${i + 1}: ${s}`]));
    assert.deepEqual(errors, []);
    // Refused until ejected after 5 in a row (and those already on their way to it).
    const refused = assertRefusedRetried(gw, refusing.url);
    assert.ok(refused.length >= 5, `${refused.length} requests were refused first`);
  } finally {
    await gw.close();
    await Promise.all([a.close(), b.close()]);
  }
});

/** One request through a gateway on these targets; its log line. */
async function lineOf(
  urls: string[],
  extra: string,
  options: { method?: string; body?: string } = {},
): Promise<{ status: number; line: LogLine }> {
  const gw = await startTestGateway(pool(urls, extra));
  try {
    const res = await request(gw.url, { ...options, path: '/x', headers: { 'x-request-id': 'skip-1' } });
    return { status: res.status, line: await gw.logFor('skip-1') };
  } finally {
    await gw.close();
  }
}

test('a retry not made says why: retry_skipped in the log line', async () => {
  const refusing = await startRefusing();
  const resetting = await startResetBeforeHead();
  const echo = await startEcho();
  try {
    const cases: { name: string; urls: string[]; extra: string; method?: string; expect: string }[] = [
      {
        name: 'the budget allows no retry at all',
        urls: [refusing.url, echo.url],
        extra: '    retries: { budget: { ratio: 0, min_concurrent: 0, min_per_second: 0 } }\n',
        expect: 'budget',
      },
      {
        name: 'connection_refused is not in retries.on',
        urls: [refusing.url, echo.url],
        extra: '    retries: { on: [connection_terminated] }\n',
        expect: 'not_retryable',
      },
      {
        name: 'the one retry allowed was refused too',
        urls: [refusing.url],
        extra: '',
        expect: 'attempts',
      },
      {
        name: 'a GET that reached the only target: no other target to try',
        urls: [resetting.url],
        extra: '',
        expect: 'no_target',
      },
      {
        name: 'a POST that reached the upstream',
        urls: [resetting.url, echo.url],
        extra: '',
        method: 'POST',
        expect: 'not_idempotent',
      },
    ];
    for (const c of cases) {
      const { status, line } = await lineOf(
        c.urls,
        c.extra,
        c.method ? { method: c.method, body: '{}' } : {},
      );
      assert.equal(status, 502, c.name);
      assert.equal(line.retry_skipped, c.expect, `${c.name}: ${JSON.stringify(line)}`);
    }
    // A request answered at once carries no retry_skipped.
    const { status, line } = await lineOf([echo.url], '');
    assert.equal(status, 200);
    assert.equal(line.retry_skipped, undefined);
    assert.equal(Object.hasOwn(line, 'retry_skipped'), false);
  } finally {
    await Promise.all([resetting.close(), echo.close()]);
  }
});
