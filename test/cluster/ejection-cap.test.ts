/**
 * max_ejected_percent holds in each worker when ejections come from the others: a worker that
 * ejected a target itself, and then hears that another worker ejected a second one, keeps the
 * second in rotation when both would pass the cap (issue 3: "a cap on the share of a pool that
 * may be ejected at once, so one bad deploy cannot empty the pool through false positives").
 * A real gateway on real sockets, told the other worker's news as its primary relays it (an
 * IPC message to this process).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load.ts';
import { startSwitchable } from '../../src/kits/fault-kit/switchable.ts';
import { createLoggerOn } from '../../src/observe/log/logger.ts';
import { ClusterLink } from '../../src/server/gateway/cluster-link.ts';
import { startGateway } from '../../src/server/gateway/gateway.ts';
import { request } from '../helpers/http-client.ts';

test("another worker's ejection is not applied past max_ejected_percent", async () => {
  const targets = await Promise.all(Array.from({ length: 4 }, () => startSwitchable()));
  const [first, second] = targets;
  first.setMode('reset');
  const config = parseConfig(
    `listen:
  - address: 127.0.0.1:0
routes:
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
${targets.map((t) => `      - url: ${t.url}`).join('\n')}
    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 0 }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s, max_ejected_percent: 25 }
`,
    '<test>',
    {},
  );
  const link = new ClusterLink({ index: 0, of: 1 }, []);
  const quiet = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  const gateway = await startGateway(config, {
    logger: createLoggerOn(quiet, 'info', 'edge'),
    cluster: link,
  });
  const url = `http://127.0.0.1:${gateway.listeners[0].port()}`;
  try {
    const app = gateway.runtime().upstreams.get('app');
    assert.ok(app);
    const ejected = () =>
      app.targets.filter((t) => t.isEjected(performance.now())).map((t) => t.config.origin);
    // Round robin: the first request goes to the first target, which resets it: ejected here.
    await request(url);
    assert.deepEqual(ejected(), [new URL(first.url).origin]);
    // The other worker ejected the second target meanwhile: one of four is this worker's cap.
    process.emit(
      'message',
      { candor: 'ejected', upstream: 'app', origin: new URL(second.url).origin, forMs: 60_000, ejections: 1 },
      undefined,
    );
    assert.deepEqual(ejected(), [new URL(first.url).origin]);
  } finally {
    link.close();
    await gateway.close();
    await Promise.all(targets.map((t) => t.close()));
  }
});
