/**
 * Every reader of `explain` is linear in its line (issue 24, item 4): each reads adversarial
 * lines of a quarter to a whole MiB (hostile-lines.ts) built from its own recorded lines. A
 * reader whose patterns backtrack takes minutes to hours on them (a 244-byte line took 12 s
 * with nginx's combined pattern, a 938 KiB one 18.7 s with the error log's); a linear one takes
 * well under a second. The reading runs on a thread, stopped at a deadline far above that: the
 * test asserts no time, it only refuses to wait for ever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { READERS } from '../../../src/kits/explain/detect-format.ts';

const FIXTURE_OF: Record<string, string[]> = {
  candor: ['candor.log'],
  'nginx-access': ['nginx-access.log', 'nginx-access-timed.log'],
  'nginx-error': ['nginx-error.log'],
  haproxy: ['haproxy.log'],
  'ingress-nginx': ['ingress-nginx.log'],
  'haproxy-stderr': ['haproxy-docker.log'],
  envoy: ['envoy.log'],
  istio: ['istio.log'],
  'envoy-json': ['istio-json.log'],
  traefik: ['traefik.log'],
  'traefik-clf': ['traefik-common.log'],
  'caddy-access': ['caddy-access.log'],
  'caddy-error': ['caddy.log'],
  alb: ['alb.log'],
  'gcp-lb': ['gcp-lb.log'],
  // A log_format of --nginx-conf, compiled into a pattern of its own.
  'nginx:edge': ['nginx-custom.log'],
  'nginx:jsonlog': ['nginx-custom-json.log'],
  // A HAProxy log-format of --haproxy-conf, read by walking its pieces, its health lines among it.
  'haproxy:defaults': ['haproxy-log-format.log'],
};

const DEADLINE_MS = 60_000;

function readHostile(format: string): Promise<number> {
  const worker = new Worker(new URL('./hostile-lines-worker.ts', import.meta.url), {
    workerData: { format, fixtures: FIXTURE_OF[format] },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(
        new Error(
          `${format}: still reading its adversarial lines after ${DEADLINE_MS / 1000} s: a pattern backtracks`,
        ),
      );
    }, DEADLINE_MS);
    worker.once('message', (count: number) => {
      clearTimeout(timer);
      resolve(count);
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

test('every built-in reader is covered here', () => {
  for (const reader of READERS) assert.ok(FIXTURE_OF[reader.format], reader.format);
});

for (const format of Object.keys(FIXTURE_OF)) {
  test(`${format}: adversarial lines are read in one pass`, { timeout: DEADLINE_MS + 10_000 }, async () => {
    assert.ok((await readHostile(format)) > 100);
  });
}
