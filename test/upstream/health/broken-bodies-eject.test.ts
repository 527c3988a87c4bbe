/**
 * A target that answers every head and then breaks every body is a failing target: outlier
 * detection counts each broken body as a failure in a row, and only an answer whose body came
 * whole ends the run. A head counted as a success at once wiped the count its broken body had
 * just made, so with `consecutive_failures: 2` such a target was never ejected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** A 200 announcing 1000 bytes, 100 of them sent, then a reset: the client's answer is cut short. */
const CUT = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(100);
const WHOLE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nwhole';

/** A target whose requests are answered whole when their path says `whole`, cut mid-body otherwise. */
async function setUp() {
  const upstream = await startRawFault(async (connection) => {
    for (;;) {
      const req = await connection.nextRequest();
      if (req.path.includes('whole')) {
        await connection.write(WHOLE);
        continue;
      }
      await connection.write(CUT);
      return connection.reset(0);
    }
  });
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    retries: { attempts: 1 }
    outlier_detection: { consecutive_failures: 2, base_ejection_time: 30s }`,
    }),
  );
  /** One request; a cut answer's error is swallowed (its status had gone out already). */
  const send = async (path: string, n: number) => {
    await request(gw.url, { path }).catch(() => undefined);
    return gw.accessLine(n);
  };
  const ejections = () => gw.logs.filter((line) => line.msg === 'target ejected');
  return { upstream, gw, send, ejections };
}

test('a target that cuts every body short is ejected after consecutive_failures of them', async () => {
  const { upstream, gw, send, ejections } = await setUp();
  try {
    const first = await send('/a', 1);
    assert.equal(first.status, 200);
    assert.equal(first.error, 'http_response_incomplete');
    assert.equal(ejections().length, 0);
    await send('/b', 2);
    assert.equal(ejections().length, 1, JSON.stringify(gw.logs));
    assert.equal(ejections()[0].reason, 'http_response_incomplete');
    assert.equal(ejections()[0].target, new URL(upstream.url).origin);
  } finally {
    await gw.close();
    await upstream.close();
  }
});

test('an answer whose body came whole ends the run of broken ones; its head alone does not', async () => {
  const { upstream, gw, send, ejections } = await setUp();
  try {
    await send('/a', 1);
    const whole = await send('/whole', 2);
    assert.equal(whole.status, 200);
    assert.equal(whole.error, undefined);
    // One broken body after a whole answer is the first of a new run: no ejection.
    await send('/b', 3);
    assert.equal(ejections().length, 0, JSON.stringify(gw.logs));
    await send('/c', 4);
    assert.equal(ejections().length, 1, JSON.stringify(gw.logs));
  } finally {
    await gw.close();
    await upstream.close();
  }
});
