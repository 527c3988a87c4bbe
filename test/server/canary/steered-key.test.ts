/**
 * One client cannot steer a canary's verdict through its hash key (issue 56 item 2). A client
 * that learns which keys land on the canary sends its failing requests (a bad input, answered
 * 500 by every version) there only: counted request by request, a canary exactly as good as its
 * baseline was rolled back in seconds (`status_5xx worse: 38/63 against 0/77`). A key now counts
 * one request a step in a process (split.ts), and `hash_key: client` keys an IPv6 client by its
 * /64, so a client rotating the addresses of its block is still one key. On a library gateway
 * (one process), and a `candor serve` of four workers, on real upstreams; the tests count
 * requests, never time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { clientBlock } from '../../../src/core/net/client-block.ts';
import { keyPoint } from '../../../src/proxy/select/split.ts';
import { type CanaryOrigin, paceLoad, startCanaryOrigin } from '../../helpers/canary-origin.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startGatewayFromText, type TestGateway } from '../../helpers/test-gateway.ts';

/** Where a key lands: its point on the weights' line, in percent (the canary is first: below its share). */
const pointOf = (key: string) => keyPoint(key) * 100;

/** The first of `candidates` whose key lands on the canary at its first step (10 %), so at every step. */
function onTheCanary(candidates: (i: number) => string, key: (c: string) => string = (c) => c): string {
  for (let i = 0; ; i++) if (pointOf(key(candidates(i))) < 10) return candidates(i);
}

/** The route `api`: baseline `stable`, canary `next`, keyed by `hashKey`. */
const steeredConfig = (
  hashKey: string,
  extra: string,
  stable: CanaryOrigin,
  next: CanaryOrigin,
) => `name: steered-edge
listen:
  - address: 127.0.0.1:0
${extra}routes:
  - name: api
    match: { path: / }
    upstream: stable
    hash_key: ${hashKey}
    canary: { upstream: next, steps: [10, 30], step_interval: 1s, min_requests: 30 }
upstreams:
  stable:
    targets:
      - url: ${stable.url}
  next:
    targets:
      - url: ${next.url}
`;

/** Two origins that both answer the bad input 500: the canary is exactly as good as its baseline. */
async function origins(): Promise<[CanaryOrigin, CanaryOrigin]> {
  const stable = await startCanaryOrigin('stable');
  const next = await startCanaryOrigin('next');
  stable.failOn = 'x-bad-input';
  next.failOn = 'x-bad-input';
  return [stable, next];
}

async function withCanary(
  hashKey: string,
  extra: string,
  body: (gw: TestGateway, stable: CanaryOrigin, next: CanaryOrigin) => Promise<void>,
): Promise<void> {
  const [stable, next] = await origins();
  try {
    const gw = await startGatewayFromText(steeredConfig(hashKey, extra, stable, next));
    try {
      await body(gw, stable, next);
    } finally {
      await gw.close();
    }
  } finally {
    await stable.close();
    await next.close();
  }
}

/** Honest users at 200 a second and the steering client at 40, until the canary is promoted or rolled back. */
async function runAttack(
  gw: TestGateway,
  honest: () => Record<string, string>,
  attacker: () => Record<string, string>,
): Promise<{ actions: string[]; attack: Awaited<ReturnType<typeof paceLoad>> }> {
  const actions = () =>
    gw.logs
      .filter((l) => l.msg === 'canary action' && l.route === 'api')
      .map((l) => String(l.action))
      .filter((a) => a === 'promote' || a === 'rollback');
  const over = () => actions().length > 0;
  const [, attack] = await Promise.all([
    paceLoad(gw.url, 200, over, 8000, honest),
    paceLoad(gw.url, 40, over, 1600, attacker),
  ]);
  return { actions: actions(), attack };
}

const worse = (gw: TestGateway) => gw.logs.filter((l) => l.msg === 'canary worse').map((l) => l.reason);

test('a client steering its failing requests through one X-User key to the canary cannot roll back a canary as good as its baseline', async () => {
  await withCanary('header:X-User', '', async (gw, _stable, next) => {
    const key = onTheCanary((i) => `mallory-${i}`);
    const { actions, attack } = await runAttack(
      gw,
      () => ({ 'x-user': randomBytes(6).toString('hex') }),
      () => ({ 'x-user': key, 'x-bad-input': '1' }),
    );
    assert.deepEqual(worse(gw), [], 'no metric judged worse');
    assert.deepEqual(actions, ['promote']);
    // The attack did land on the canary, and failed there: it was only not counted twice a step.
    assert.equal(attack.statuses[500], attack.sent);
    assert.ok(next.received >= attack.sent, `the canary got ${next.received}`);
  });
});

test('hash_key: client keys an IPv6 client by its /64: rotating its addresses, it cannot roll back a canary as good as its baseline', async () => {
  // Behind a trusted proxy (loopback) the client is the one X-Forwarded-For names, as allow/deny judge it.
  await withCanary('client', 'trust_forwarded_from: [127.0.0.1]\n', async (gw) => {
    // A /64 that lands on the canary, and in it addresses that each did too when keyed alone.
    const prefix = onTheCanary(
      (i) => `2001:db8:${(i + 1).toString(16)}:7`,
      (p) => clientBlock(`${p}::1`),
    );
    const addresses: string[] = [];
    for (let i = 1; addresses.length < 200; i++) {
      const address = `${prefix}::${i.toString(16)}`;
      if (pointOf(address) < 10) addresses.push(address);
    }
    let n = 0;
    let honest = 0;
    const { actions, attack } = await runAttack(
      gw,
      () => ({ 'x-forwarded-for': `198.51.${(++honest >> 8) & 255}.${honest & 255}` }),
      () => ({ 'x-forwarded-for': addresses[n++ % addresses.length], 'x-bad-input': '1' }),
    );
    assert.deepEqual(worse(gw), [], 'no metric judged worse');
    assert.deepEqual(actions, ['promote']);
    assert.equal(attack.statuses[500], attack.sent);
  });
});

test('under candor serve with four workers, the steering key counts once a step, whichever worker counted it: the canary is promoted', async () => {
  const [stable, next] = await origins();
  const path = join(tempDir('candor-steered-'), 'candor.yaml');
  writeFileSync(path, steeredConfig('header:X-User', '', stable, next));
  try {
    const serve = await startServe(path, 4);
    try {
      const key = onTheCanary((i) => `mallory-${i}`);
      const actions = () =>
        serve.lines
          .filter((l) => l.msg === 'canary action' && l.route === 'api')
          .map((l) => String(l.action))
          .filter((a) => a === 'promote' || a === 'rollback');
      const over = () => actions().length > 0;
      const url = `http://127.0.0.1:${serve.port}`;
      // The attacker's keep-alive connections (up to 16) land on every worker: each counts its
      // key once a step, and the controller once in all (key-votes.ts). Counted once in each,
      // four failures against none roll a canary of 10 % back.
      const [, attack] = await Promise.all([
        paceLoad(url, 200, over, 8000, () => ({ 'x-user': randomBytes(6).toString('hex') })),
        paceLoad(url, 40, over, 1600, () => ({ 'x-user': key, 'x-bad-input': '1' })),
      ]);
      assert.deepEqual(
        serve.lines.filter((l) => l.msg === 'canary worse').map((l) => l.reason),
        [],
      );
      assert.deepEqual(actions(), ['promote']);
      assert.equal(attack.statuses[500], attack.sent);
    } finally {
      await serve.stop();
    }
  } finally {
    await stable.close();
    await next.close();
  }
});
