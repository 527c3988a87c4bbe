/**
 * The refused port the kit hands out is one fetch() would try: on one of the Fetch standard's
 * bad ports fetch fails with "bad port" before connecting, and a test of a client built on
 * fetch (candor/client, the JWKS hop) saw a connection lost instead of a refusal, now and then.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FETCH_BAD_PORTS } from '../../../src/core/net/fetch-bad-ports.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';

test('startRefusing never hands out a port fetch() blocks: fetch meets a refusal there', async () => {
  // About one low port in sixteen is a bad one: 60 faults pick one with a chance above 97 %.
  for (let i = 0; i < 60; i++) {
    const fault = await startRefusing();
    try {
      assert.ok(!FETCH_BAD_PORTS.has(fault.port), `port ${fault.port} is one fetch() blocks`);
    } finally {
      await fault.close();
    }
  }
  const fault = await startRefusing();
  try {
    const error = await fetch(`${fault.url}/`).then(
      () => assert.fail('resolved'),
      (err: unknown) => err as Error,
    );
    assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
  } finally {
    await fault.close();
  }
});

test('refusing faults held at once are each on a port of their own, which is free to be drawn again once closed', async () => {
  // Drawn at random from under 1024: 60 at once would share one with a chance above 85 %.
  const faults = [];
  try {
    for (let i = 0; i < 60; i++) faults.push(await startRefusing());
    const ports = faults.map((fault) => fault.port);
    assert.equal(new Set(ports).size, ports.length, `a port handed out twice: ${ports.join(' ')}`);
  } finally {
    await Promise.all(faults.map((fault) => fault.close()));
  }
});
