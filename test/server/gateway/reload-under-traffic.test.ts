/**
 * The reload test: a real `candor serve --workers 2` under steady keep-alive traffic (4
 * clients in a loop) through 20 reloads, half by SIGHUP, half by the admin API, changing
 * routes, weights and timeouts, plus one invalid file. No request may fail because of a
 * reload: every answer is 2xx (the upstreams only answer 200) and no connection errors.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { request } from '../../helpers/http-client.ts';
import { adminCall, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const TOKEN = 'reload-test-token-0123456789';

// 20 reloads, each a config read in a process of its own and taken by two workers: 37 s on a
// quiet machine beside the suite, past the suite's 60 s on a loaded one.
test('20 reloads under steady traffic: zero failed requests, zero connection errors, new routes take effect', {
  timeout: 180_000,
}, async () => {
  const dir = tempDir('candor-reload-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const a = await startEcho();
  const b = await startEcho();
  const path = join(dir, 'candor.yaml');
  const configText = (i: number) => `name: reload-edge
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:0", token_file: ${tokenFile} }
routes:
  - name: a
    match: { path: /a }
    upstream: one
  - name: x
    match: { path: /x }
    upstream: ${i % 2 === 0 ? 'one' : 'two'}
  - name: new-${i}
    match: { path: /new-${i} }
    upstream: two
upstreams:
  one:
    targets:
      - url: ${a.url}
        weight: ${(i % 3) + 1}
      - url: ${b.url}
    timeouts: { response: ${5 + (i % 2)}s }
  two:
    targets: [{ url: "${b.url}" }]
    timeouts: { response: ${6 - (i % 2)}s, total: ${60 + i}s }
log: { level: info }
`;
  writeFileSync(path, configText(0));
  const serve = await startServe(path, 2, { admin: true });
  const adminPort = serve.adminPort as number;
  const base = `http://127.0.0.1:${serve.port}`;
  let running = true;
  const statuses = new Map<number, number>();
  const errors: string[] = [];
  let requests = 0;
  const client = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let k = 0;
    while (running) {
      const path = (n + k++) % 2 === 0 ? '/a' : '/x';
      try {
        const status = await new Promise<number>((resolve, reject) => {
          http
            .get(`${base}${path}?c=${n}`, { agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
              res.on('error', reject);
            })
            .on('error', reject);
        });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch (err) {
        errors.push(`${path}: ${(err as Error).message}`);
      }
      requests++;
    }
    agent.destroy();
  };
  const clients = [0, 1, 2, 3].map(client);
  try {
    let reloadsLogged = 0;
    for (let i = 1; i <= 20; i++) {
      // Traffic on the snapshot between reloads, not only across them.
      await new Promise((resolve) => setTimeout(resolve, 100));
      writeFileSync(path, configText(i));
      if (i % 2 === 1) {
        serve.child.kill('SIGHUP');
        await serve.waitForLines('config reloaded', ++reloadsLogged, 10_000);
      } else {
        const res = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.result, 'ok');
        assert.deepEqual((res.body.workers as { confirmed: number[] }).confirmed.length, 2);
        reloadsLogged++;
      }
      // The new route answers on both workers (fresh connections spread round robin), the old one is gone.
      for (let w = 0; w < 4; w++) {
        assert.equal((await request(base, { path: `/new-${i}` })).status, 200, `/new-${i} after reload ${i}`);
        assert.equal(
          (await request(base, { path: `/new-${i - 1}` })).status,
          404,
          `/new-${i - 1} after reload ${i}`,
        );
      }
      if (i === 10) {
        // An invalid file: refused with its problems, nothing changes, traffic goes on.
        const before = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body.config as {
          hash: string;
        };
        writeFileSync(path, configText(i).replace(/weight: \d+/, 'weight: heavy'));
        const refused = await adminCall(adminPort, 'POST', '/reload', { token: TOKEN });
        assert.equal(refused.status, 400);
        assert.equal(refused.type, 'application/problem+json');
        assert.equal(refused.body.title, 'Invalid config');
        const report = refused.body.reload as {
          result: string;
          problems: { file: string; line: number; path: string; message: string }[];
        };
        assert.equal(report.result, 'invalid');
        assert.deepEqual(
          report.problems.map((p) => [p.file, p.line, p.path]),
          [[path, 19, 'upstreams.one.targets[0].weight']],
        );
        assert.match(report.problems[0].message, /expected an integer from 1 to 1000, got "heavy"/);
        const after = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body;
        assert.equal((after.config as { hash: string }).hash, before.hash, 'the running config stays');
        assert.equal((after.last_reload as { result: string }).result, 'invalid');
        assert.equal((await request(base, { path: `/new-${i}` })).status, 200);
      }
    }
    running = false;
    await Promise.all(clients);
    const failed = [...statuses].filter(([status]) => status < 200 || status > 299);
    process.stdout.write(
      `# reload test: ${requests} requests through 20 reloads (10 SIGHUP, 10 admin) and 1 invalid file; statuses ${JSON.stringify(Object.fromEntries(statuses))}; connection errors ${errors.length}\n`,
    );
    assert.deepEqual(failed, [], 'no answer but 2xx');
    assert.deepEqual(errors, [], 'no connection error');
    assert.ok(requests > 200, `steady traffic ran (${requests} requests)`);
    assert.equal(serve.child.exitCode, null, 'SIGHUP did not stop the gateway');
    const status = (await adminCall(adminPort, 'GET', '/status', { token: TOKEN })).body;
    assert.equal((status.config as { version: number }).version, 21);
    const workers = status.workers as { config_hash: string }[];
    assert.equal(workers.length, 2);
    assert.equal(workers[0].config_hash, workers[1].config_hash, 'both workers run one snapshot');
  } finally {
    running = false;
    await Promise.all(clients);
    await serve.stop();
    await a.close();
    await b.close();
  }
});
