/**
 * The client of the worker fetching a key for all (fill-lock.ts) leaves mid-fetch under a real
 * `candor serve --workers 3`: the fetch is dropped with it, and the requests waiting for it in the
 * two other workers were each left to fetch alone (its lock went without a word; they found
 * nothing stored). Now its leader says why it let go (`….ended`: `lead`), one of them takes the
 * lock again and fetches, the other waits for that fetch: one fetch more, not one a worker.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { childPids } from '../helpers/serve-process.ts';
import { waitUntil } from '../helpers/wait.ts';

/**
 * The worker holding the gateway's side of the client connection from `clientPort` (Linux's
 * /proc: the socket's inode in the TCP table, then the worker with a descriptor of it).
 */
function workerOf(workers: readonly number[], clientPort: number): number | undefined {
  const rem = `:${clientPort.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = readFileSync('/proc/net/tcp', 'latin1')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((cols) => cols[2]?.endsWith(rem) && cols[3] === '01');
  const socket = `socket:[${row?.[9]}]`;
  return workers.find((pid) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === socket;
      } catch {
        return false;
      }
    }),
  );
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** A GET on `agent`'s one keep-alive connection; its request, to cut it. */
function get(agent: http.Agent, port: number, path: string, answered: (answer: Answer | Error) => void) {
  const req = http.get({ agent, host: '127.0.0.1', port, path, headers: { host: 'pages.test' } }, (res) => {
    let text = '';
    res.setEncoding('latin1');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
    res.on('end', () => answered({ status: res.statusCode ?? 0, headers: res.headers, text }));
    res.on('error', answered);
  });
  req.on('error', answered);
  return req;
}

const answerOf = (agent: http.Agent, port: number, path: string) =>
  new Promise<Answer>((resolve, reject) =>
    get(agent, port, path, (a) => (a instanceof Error ? reject(a) : resolve(a))),
  );

test("a leader's client that leaves mid-fetch: the waiting requests of the two other workers make one fetch more, not one each", async (t) => {
  // The first GET is never answered (its client leaves); the next ones after 300 ms.
  let gets = 0;
  const origin = http.createServer((req, res) => {
    req.resume();
    const n = ++gets;
    if (n === 1) return;
    setTimeout(
      () => res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end(`v${n}`),
      300,
    );
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const serve = await serveCachedPages(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`, {
    cache: '{ lock_timeout: 30s }',
    workers: 3,
  });
  t.after(() => serve.stop());
  // Keep-alive connections, each known by the worker that took it, until each worker has one:
  // the leader's, and one waiting in each other worker.
  const workers = childPids(serve.child.pid);
  const byWorker = new Map<number, http.Agent>();
  const agents: http.Agent[] = [];
  t.after(() => {
    for (const agent of agents) agent.destroy();
  });
  for (let i = 0; i < 60 && byWorker.size < 3; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    let port = 0;
    agent.once('free', (socket) => {
      port = socket.localPort ?? 0;
    });
    assert.equal((await answerOf(agent, serve.port, '/who')).status, 404);
    const pid = workerOf(workers, port);
    if (pid !== undefined && !byWorker.has(pid)) byWorker.set(pid, agent);
  }
  assert.equal(byWorker.size, 3, 'a connection on each of the three workers');
  const [leader, ...others] = [...byWorker.values()];
  const cut = get(leader, serve.port, '/pages/doc', () => {});
  await waitUntil('the leader fetching', () => gets === 1);
  const waiting = others.map((agent) => answerOf(agent, serve.port, '/pages/doc'));
  // Both wait on the leader's lock (each worker looks every 20 ms) before its client leaves.
  await new Promise((resolve) => setTimeout(resolve, 200));
  cut.destroy();
  const answers = await Promise.all(waiting);
  assert.deepEqual(
    answers.map((a) => [a.status, a.text]),
    [
      [200, 'v2'],
      [200, 'v2'],
    ],
  );
  assert.equal(gets, 2, "upstream GETs: the leader's, dropped, and one for both waiting");
});
