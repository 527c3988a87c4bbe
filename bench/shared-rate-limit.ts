/**
 * What a rate limit shared through Redis adds to a request, and what it adds to a route
 * without one (nothing: such a route never asks). Short and sequential (one keep-alive
 * connection, one request at a time), so each figure is one request's own latency:
 *
 *   node_modules/.bin/node bench/shared-rate-limit.ts [--requests=2000]
 *
 * Starts a real redis-server on a loopback port, a node:http origin, and two `candor serve
 * --workers 1` gateways on the same config but for `store`: one with `store.redis` (the
 * limited route asks Redis), one without (the limited route asks the cluster primary over
 * IPC). Both have a route with a rate limit too high to refuse anything and one without;
 * the four are measured in turn, round after round, so drift on a shared machine hits all alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' } } });
const REQUESTS = Number(values.requests);
const WARMUP = 300;
const BIN = join(import.meta.dirname, '../bin/candor.js');
const dir = mkdtempSync(join(tmpdir(), 'candor-bench-rate-'));
// Its folder goes when the process does, whichever way it ends.
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function startAndWait(command: string, args: string[], ready: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${command} not ready: ${output}`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? '');
      }
    });
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const origin = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const redisPort = await freePort();
await startAndWait(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  /Ready to accept connections()/,
);

async function gateway(name: string, store: string): Promise<number> {
  const port = await freePort();
  const path = join(dir, `${name}.yaml`);
  // No access log (warn): writing it would cost the same in every row and only blur them.
  writeFileSync(
    path,
    `name: ${name}
listen: [{ address: 127.0.0.1:${port} }]
log: { level: warn }
${store}
routes:
  - name: limited
    match: { path: /limited }
    upstream: app
    rate_limit: { rate: 1000000, burst: 1000000 }
  - name: open
    match: { path: / }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${originUrl} }]
`,
  );
  children.push(
    spawn(process.execPath, [BIN, 'serve', '--workers', '1', '--config', path], { stdio: 'ignore' }),
  );
  for (let tries = 0; ; tries++) {
    try {
      await once(port, '/open');
      return port;
    } catch (err) {
      if (tries > 150) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const withRedis = await gateway('with-redis', `store:\n  redis: { url: "redis://127.0.0.1:${redisPort}" }`);
const without = await gateway('without-store', '');

function once(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path} on ${port}: ${res.statusCode}`));
        else resolve(performance.now() - start);
      });
    });
    req.on('error', reject);
  });
}

const cases = [
  { name: 'store.redis, route with rate_limit', port: withRedis, path: '/limited' },
  { name: 'store.redis, route without', port: withRedis, path: '/open' },
  { name: 'no store (primary over IPC), route with rate_limit', port: without, path: '/limited' },
  { name: 'no store, route without', port: without, path: '/open' },
];
const samples = cases.map(() => [] as number[]);
for (let round = 0; round < WARMUP + REQUESTS; round++)
  for (const [i, c] of cases.entries()) {
    const ms = await once(c.port, c.path);
    if (round >= WARMUP) samples[i].push(ms);
  }

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
process.stdout.write(
  `${REQUESTS} sequential keep-alive requests per row (after ${WARMUP} of warm-up), ms:\n\n`,
);
process.stdout.write('| case | p50 | p99 |\n|---|---|---|\n');
for (const [i, c] of cases.entries()) {
  const sorted = samples[i].sort((a, b) => a - b);
  process.stdout.write(
    `| ${c.name} | ${quantile(sorted, 0.5).toFixed(3)} | ${quantile(sorted, 0.99).toFixed(3)} |\n`,
  );
}
agent.destroy();
origin.close();
// The gateways first (each drains, then closes its Redis connection), then Redis.
for (const child of children.toReversed()) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
