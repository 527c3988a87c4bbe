/**
 * The gateway's own machine out of what a connection needs is its own failure, not the target's:
 * here the process's open-file limit (RLIMIT_NOFILE, lowered with prlimit to the descriptors it
 * already holds), so the upstream connect fails with a real EMFILE. The answer is 503
 * `proxy_resources_exhausted` with Retry-After (Proxy-Status: RFC 9209's connection_limit_reached),
 * and a circuit and an outlier detection that open at one failure stay shut.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

/** This process's open-file limit, as prlimit takes it ("soft:hard"). */
function nofile(): string {
  const out = execFileSync('prlimit', [
    '--pid',
    String(process.pid),
    '--nofile',
    '--raw',
    '--noheadings',
    '--output=SOFT,HARD',
  ]);
  return out.toString().trim().split(/\s+/).join(':');
}

/**
 * Lowers the open-file limit to the descriptors this process holds and takes every free one below
 * it: the next socket() fails with EMFILE. `release` gives them back and restores the limit. A
 * reserve is taken first, below the lowered limit, so that prlimit itself can be started again
 * however compact the descriptor table was: a synchronous spawn opens a dozen descriptors of its
 * own (a loop, its wakeup, the child's three pipes, the exec error pipe), and with eight in reserve
 * and no hole below the highest descriptor, the restoring spawn failed with EMFILE on CI.
 */
function exhaustDescriptors(): () => void {
  const before = nofile();
  const reserve = Array.from({ length: 64 }, () => openSync('/dev/null', 'r'));
  const highest = Math.max(...readdirSync('/proc/self/fd').map(Number));
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${highest + 1}:${before.split(':')[1]}`]);
  const held: number[] = [];
  for (;;) {
    try {
      held.push(openSync('/dev/null', 'r'));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'EMFILE');
      break;
    }
  }
  return () => {
    for (const fd of [...reserve, ...held]) closeSync(fd);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before}`]);
  };
}

/** A GET on `agent`'s connection (kept alive, so that the second needs no new descriptor). */
function get(
  url: string,
  path: string,
  agent: http.Agent,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get(new URL(path, url), { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      })
      .on('error', reject);
  });
}

test('no file descriptor left for the upstream connect: 503 proxy_resources_exhausted with Retry-After, and the target is not judged', async (t) => {
  const seen: string[] = [];
  // Connection: close: the gateway keeps no upstream connection, so each request needs a new one.
  const upstream = await listenOnLoopback((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { connection: 'close' }).end('ok');
  });
  t.after(() => upstream.close());
  const gw = await startTestGateway(
    singleUpstream(upstream.url, {
      upstream: `    retries: { attempts: 1 }
    circuit_breaker: { consecutive_failures: 1, open_time: 60s }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 60s }`,
    }),
  );
  t.after(() => gw.close());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  assert.equal((await get(gw.url, '/first', agent)).status, 200);

  const release = exhaustDescriptors();
  let answer: Awaited<ReturnType<typeof get>>;
  try {
    answer = await get(gw.url, '/exhausted', agent);
  } finally {
    release();
  }
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  assert.match(
    String(answer.headers['proxy-status']),
    /^edge-1; error=connection_limit_reached; details="no file descriptor left for the connection \(EMFILE: the process's open-file limit\) after [\d.]+ ms"; next-hop="app"$/,
  );
  const line = gw.logs.find((l) => l.msg === 'request' && l.path === '/exhausted');
  assert.equal(line?.error, 'proxy_resources_exhausted');
  assert.equal(line?.shape, 'gateway');
  assert.equal(line?.stage, 'not_sent');

  // Neither the circuit nor outlier detection took it as the target's: the next request reaches it.
  const target = gw.gateway.runtime().upstreams.get('app')?.targets[0];
  assert.equal(target?.isEjected(performance.now()), false);
  assert.equal((await get(gw.url, '/after', agent)).status, 200);
  assert.deepEqual(seen, ['/first', '/after']);
});
