/**
 * `max_in_flight` is split exactly among the workers (README, "Limits across workers"):
 * with 2 workers a route limited to 2 requests in flight never has more than 2 upstream,
 * whichever worker each request lands on; each worker alone would have let 2 through.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('candor-split-');
let serve: ServeProcess;
let upstream: http.Server;
let inFlight = 0;
let most = 0;

before(async () => {
  // Holds every request 600 ms, counting how many it holds at once.
  upstream = http.createServer((_req, res) => {
    inFlight++;
    most = Math.max(most, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('ok');
    }, 600);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: split
listen:
  - address: 127.0.0.1:0
routes:
  - upstream: app
    max_in_flight: 2
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
`,
  );
  serve = await startServe(path, 2);
});

after(() => closeAll(serve, upstream));

test('max_in_flight 2 with 2 workers: never more than 2 in flight, the others shed with 503', async () => {
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) => request(`http://127.0.0.1:${serve.port}`, { path: `/s${i}` })),
  );
  const passed = answers.filter((a) => a.status === 200).length;
  const shed = answers.filter((a) => a.status === 503).length;
  process.stdout.write(
    `# 2 workers, max_in_flight 2: ${passed} of 6 passed, ${shed} shed, at most ${most} upstream at once\n`,
  );
  assert.ok(most <= 2, `${most} in flight upstream`);
  assert.ok(passed >= 1 && passed <= 2, `${passed} passed`);
  assert.equal(passed + shed, 6);
  // A shed request is told the count and the bound of the worker that shed it, as such: its
  // share of the route's max_in_flight (1 of 2), not a max_in_flight of 1 the file never set.
  for (const answer of answers.filter((a) => a.status === 503))
    assert.equal(
      answer.headers['proxy-status'],
      'split; error=proxy_internal_response; details="load shed: the route \\"/\\" already has 1 request in flight in this worker, whose share of max_in_flight 2 is 1"; next-hop="app"',
    );
});
