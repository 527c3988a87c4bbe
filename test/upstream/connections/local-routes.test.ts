/**
 * A connection the gateway's own machine refuses to make: a route of type `prohibit` (connect()
 * fails EACCES), `blackhole` (EINVAL) or `unreachable` (EHOSTUNREACH), as an operator sets one to
 * keep traffic from an address. No packet leaves and no connection is made: the unreachable
 * shape, a 502 destination_ip_unroutable that nothing reached, never a connection "closed or
 * reset" by an upstream that was never asked. The routes are set in a network namespace of the
 * child's own (`unshare -rn`); where the machine allows none, the test is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const HELPER = join(import.meta.dirname, '../../helpers/local-routes.ts');

test("a prohibit, blackhole or unreachable route on the gateway's machine: 502 destination_ip_unroutable, unreachable, nothing sent", (t) => {
  if (spawnSync('unshare', ['-rn', 'ip', 'link', 'set', 'lo', 'up']).status !== 0) {
    t.skip('no network namespace may be made here (unshare -rn)');
    return;
  }
  const run = spawnSync('unshare', ['-rn', process.execPath, HELPER], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(run.status, 0, run.stderr);
  const answers = JSON.parse(run.stdout);
  const expected: Record<string, { code: string; words: RegExp }> = {
    prohibit: { code: 'EACCES', words: /^the gateway's machine forbids connecting to the upstream/ },
    blackhole: { code: 'EINVAL', words: /^the gateway's machine has no usable route to the upstream/ },
    unreachable: { code: 'EHOSTUNREACH', words: /^no route to the upstream/ },
  };
  for (const [type, { code, words }] of Object.entries(expected)) {
    const answer = answers[type];
    assert.equal(answer.status, 502, type);
    assert.equal(answer.error, 'destination_ip_unroutable', type);
    assert.equal(answer.shape, 'unreachable', type);
    assert.equal(answer.stage, 'not_sent', type);
    assert.match(answer.details, words, type);
    assert.match(answer.details, new RegExp(`\\(${code}\\) after `), type);
    assert.match(
      answer.proxyStatus,
      new RegExp(
        `^edge-1; error=destination_ip_unroutable; details="[^"]*\\(${code}\\)[^"]*"; next-hop="${type}"$`,
      ),
      type,
    );
  }
});
