/**
 * A canary whose start fails — the workers' sides could not be set (a reload removed the route
 * while the start waited on the first window) — is logged and leaves the process running: the
 * start's rejection was left to no handler, and Node ends a process on an unhandled rejection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLoggerOn } from '../../../src/observe/log/logger.ts';
import { CanaryController } from '../../../src/server/canary/canary-controller.ts';
import { canaryConfig, controllerConfig } from '../../helpers/canary-traffic.ts';

const CANARY = canaryConfig(60_000, 15_000);

test('a canary start whose sides cannot be set is logged, not an unhandled rejection', async () => {
  const lines: Record<string, unknown>[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const controller = new CanaryController({
    window: async () => undefined,
    setSides: async () => {
      throw new Error('no route "api" in the running config');
    },
    logger: createLoggerOn({ write: (line: string) => void lines.push(JSON.parse(line)) }, 'info', 'test'),
    onEvent: () => {},
  });
  try {
    controller.sync(
      controllerConfig({
        routes: [{ name: 'api', upstream: 'stable', canary: CANARY }],
        upstreams: { next: { targets: [] } },
      }),
      undefined,
    );
    // Two turns of the loop: the start's awaits, then its rejection's report.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
    const failed = lines.find((l) => l.msg === 'canary failed to start');
    assert.equal(failed?.route, 'api');
    assert.equal(failed?.err, 'no route "api" in the running config');
  } finally {
    controller.close();
    process.off('unhandledRejection', onUnhandled);
  }
});
