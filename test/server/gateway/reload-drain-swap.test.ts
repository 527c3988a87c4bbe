/**
 * A drain that begins while a worker is still swapping to a reload's config (its plugins being
 * made, its new rate limit store being connected): the worker gives the reload up, as it refuses
 * one asked during the drain (operations.md "Reload", step 2). It went on instead: it opened the
 * reload's new listener after the drain had taken the listeners it found, so that one accepted
 * outside the drain, then answered the primary on a channel the drain had closed, which node:cluster
 * threw as the worker's 'error': the worker exited 1, the primary with it, the reload said
 * "incomplete" on a gateway that was stopping.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { adminCall, childPids, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';

const TOKEN = 'reload-drain-token-0123456789abcdef';
const started: ServeProcess[] = [];
const servers: net.Server[] = [];
after(() => {
  for (const serve of started) serve.child.kill('SIGKILL');
  for (const server of servers) server.close();
});

/** An upstream that answers every request. */
async function startOrigin(): Promise<string> {
  const server = http.createServer((_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

interface Setup {
  dir: string;
  config: string;
  adminPort: number;
  write(body: string): void;
}

async function setup(): Promise<Setup> {
  const dir = tempDir('candor-reload-drain-');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
  const adminPort = await freePort();
  const config = join(dir, 'candor.yaml');
  const head = `name: audit\nadmin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }\n`;
  return { dir, config, adminPort, write: (body) => writeFileSync(config, head + body) };
}

/** Whether a connection to `port` on loopback is taken. */
function connects(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/**
 * A reload that adds a listener, under way in the worker when SIGTERM comes (`hold` makes the
 * worker wait on something the test lets go of once the drain stopped accepting): the reload is
 * the drain's refusal, the new listener never accepts, the process exits 0.
 */
async function reloadCaughtByDrain(
  s: Setup,
  write: (listen: string) => void,
  p2: number,
  workerWaits: (worker: number) => Promise<void>,
  letGo: () => void,
): Promise<void> {
  const serve = await startServe(s.config, 1, { admin: true });
  started.push(serve);
  const [worker] = childPids(serve.child.pid);
  write(`listen: [{ address: "127.0.0.1:0" }, { address: "127.0.0.1:${p2}" }]\n`);
  const exit = new Promise<number | null>((resolve) => serve.child.once('exit', (code) => resolve(code)));
  const reload = adminCall(s.adminPort, 'POST', '/reload', { token: TOKEN }).catch((err: Error) => ({
    status: 0,
    text: err.message,
  }));
  await workerWaits(worker);
  serve.child.kill('SIGTERM');
  await serve.waitForLines('draining: stopped accepting', 1, 15_000);
  letGo();
  const answered = await reload;
  assert.equal(await connects(p2), 'ECONNREFUSED', `reload answered ${answered.status} ${answered.text}`);
  assert.equal(answered.status, 409, answered.text);
  assert.equal(JSON.parse(answered.text).reload.swap_stopped, true, answered.text);
  await serve.waitForLines('reload refused: the gateway is draining; the running config stays', 1);
  const code = await exit;
  const lines = serve.lines.map((l) => JSON.stringify(l)).join('\n');
  assert.equal(code, 0, `${serve.stderr()}\n${lines}`);
  assert.ok(!serve.lines.some((l) => l.msg === 'config swapped' || l.msg === 'config reloaded'), lines);
}

test('a drain that begins while a worker builds a reload’s plugins: the reload is refused as draining, the listener it adds never accepts, exit 0', async () => {
  const origin = await startOrigin();
  const s = await setup();
  const p2 = await freePort();
  const marks = join(s.dir, 'marks');
  mkdirSync(marks);
  const go = join(s.dir, 'go');
  // Its factory waits for the test's word (4 s at most: the factory's bound is 5 s).
  writeFileSync(
    join(s.dir, 'held.mjs'),
    `import { existsSync, writeFileSync } from 'node:fs';
export default async function held() {
  writeFileSync(${JSON.stringify(marks)} + '/' + process.pid, '');
  for (let i = 0; i < 400 && !existsSync(${JSON.stringify(go)}); i++) await new Promise((r) => setTimeout(r, 10));
  return {};
}
`,
  );
  const base = `routes:
  - match: { path: / }
    upstream: app
upstreams:
  app: { targets: [{ url: ${origin} }] }
`;
  s.write(`listen: [{ address: "127.0.0.1:0" }]\n${base}`);
  await reloadCaughtByDrain(
    s,
    (listen) => s.write(`${listen}plugins:\n  held: { module: ./held.mjs }\n${base}`),
    p2,
    (worker) =>
      waitUntil('the worker building the plugin', () => readdirSync(marks).includes(String(worker))),
    () => writeFileSync(go, ''),
  );
});

test('a drain that begins while a worker connects a reload’s new rate limit store: the reload is refused as draining, the listener it opened closes, exit 0', async () => {
  const origin = await startOrigin();
  const s = await setup();
  const p2 = await freePort();
  // A Redis that takes the connection and says nothing: the reload waits for it (store.redis.timeout).
  const peers: net.Socket[] = [];
  const silent = net.createServer((socket) => {
    peers.push(socket);
    socket.on('error', () => {});
  });
  servers.push(silent);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const redis = `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const base = `routes:
  - match: { path: / }
    upstream: app
    rate_limit: { rate: 100, burst: 100 }
upstreams:
  app: { targets: [{ url: ${origin} }] }
`;
  s.write(`listen: [{ address: "127.0.0.1:0" }]\n${base}`);
  try {
    await reloadCaughtByDrain(
      s,
      (listen) => s.write(`${listen}store: { redis: { url: "${redis}", timeout: 2s } }\n${base}`),
      p2,
      () => waitUntil('the worker connecting to the store', () => peers.length > 0),
      () => {},
    );
  } finally {
    for (const peer of peers) peer.destroy();
  }
});
