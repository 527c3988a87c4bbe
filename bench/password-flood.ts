/**
 * What a flood of wrong Basic passwords does to a route without auth on the same worker: the
 * median latency of `GET /open` (sequential, one every 100 ms) with no flood, then while
 * `--rate` wrong bcrypt logins a second (cost 10, each from an address of its own behind a
 * trusted proxy, so no per-client bound refuses them) go to `/login`:
 *
 *   node_modules/.bin/node bench/password-flood.ts [--root=DIR] [--rate=27] [--seconds=15]
 *
 * `--root` runs another checkout's `bin/candor.js` (e.g. a `git archive` of main with this
 * checkout's node_modules linked beside it), for the figure before a change. The gateway is
 * `candor serve --workers 1`; the origin is a node:http server in this process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: join(import.meta.dirname, '..') },
    rate: { type: 'string', default: '27' },
    seconds: { type: 'string', default: '15' },
  },
});
const BIN = join(resolve(values.root), 'bin/candor.js');
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const PROBE_EVERY_MS = 100;
const dir = mkdtempSync(join(tmpdir(), 'candor-bench-flood-'));
// Its folder goes when the process does, whichever way it ends.
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

const origin = http.createServer((_req, res) => res.end('ok'));
await new Promise<void>((done) => origin.listen(0, '127.0.0.1', done));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

const port = await freePort();
writeFileSync(join(dir, 'users'), `alice:${bcrypt.hashSync('right', 10)}\n`);
writeFileSync(
  join(dir, 'candor.yaml'),
  `name: flood
listen: [{ address: 127.0.0.1:${port} }]
log: { level: warn }
trust_forwarded_from: [127.0.0.1]
routes:
  - name: login
    match: { path: /login }
    upstream: app
    auth:
      basic: { users_file: ${join(dir, 'users')} }
  - name: open
    match: { path: /open }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${originUrl} }]
`,
);
const gateway = spawn(
  process.execPath,
  [BIN, 'serve', '--workers', '1', '--config', join(dir, 'candor.yaml')],
  {
    stdio: 'ignore',
  },
);
process.on('exit', () => gateway.kill('SIGKILL'));

/** One request on a connection of its own: its status and milliseconds. */
function get(path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; ms: number }> {
  return new Promise((done, fail) => {
    const start = performance.now();
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, ms: performance.now() - start }));
    });
    req.on('error', fail);
  });
}

for (let tries = 0; ; tries++) {
  try {
    if ((await get('/open')).status === 200) break;
  } catch (err) {
    if (tries > 150) throw err;
  }
  await new Promise((done) => setTimeout(done, 100));
}

/** GET /open one after another, one every PROBE_EVERY_MS, for `seconds`: their milliseconds. */
async function probe(seconds: number): Promise<number[]> {
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const { ms } = await get('/open');
    times.push(ms);
    await new Promise((done) => setTimeout(done, Math.max(0, PROBE_EVERY_MS - ms)));
  }
  return times;
}

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
const quiet = await probe(Math.min(5, SECONDS));

const logins = new Map<number, number>();
let sent = 0;
const wrong = `Basic ${Buffer.from('alice:wrong').toString('base64')}`;
const flood = setInterval(() => {
  sent++;
  const from = `10.${(sent >> 16) & 255}.${(sent >> 8) & 255}.${sent & 255}`;
  get('/login', { authorization: wrong, 'x-forwarded-for': from }).then(
    ({ status }) => logins.set(status, (logins.get(status) ?? 0) + 1),
    () => logins.set(0, (logins.get(0) ?? 0) + 1),
  );
}, 1000 / RATE);
// A second for the flood to build its queue, then the measure.
await new Promise((done) => setTimeout(done, 1000));
const flooded = await probe(SECONDS);
clearInterval(flood);

const statuses = [...logins].map(([status, n]) => `${status === 0 ? 'error' : status}: ${n}`).join(', ');
process.stdout.write(
  `${BIN}\nGET /open median: ${median(quiet).toFixed(1)} ms quiet (${quiet.length} requests), ` +
    `${median(flooded).toFixed(1)} ms during ${RATE} wrong bcrypt logins/s (${flooded.length} requests); logins answered ${statuses}\n`,
);
gateway.kill('SIGTERM');
origin.close();
process.exit(0);
