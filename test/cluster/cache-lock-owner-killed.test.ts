/**
 * A worker killed (SIGKILL, the OOM killer) while it fetches a key for every worker of a real
 * `candor serve --workers 2` (its lock held in their shared folder, fill-lock.ts): the other
 * worker's requests waiting on that fetch take it over as soon as its owner is gone, one fetch
 * upstream for them. They waited for the route's whole `lock_timeout` before (5 s by default,
 * 60 s here: the test's bound would end first), then went upstream each alone, as a Range
 * following the fetch's file already knew not to (it is cut once the owner is gone).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, watch } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveCachedPages } from '../helpers/cached-pages.ts';
import { type ClientResponse, request } from '../helpers/http-client.ts';
import { childPids, workersCacheDir } from '../helpers/serve-process.ts';
import { waitUntil } from '../helpers/wait.ts';

test("a worker killed mid-fetch: the other worker's waiting requests take its fetch over, one upstream request", async (t) => {
  // The first GET is never answered (its worker is killed holding it); the next ones at once.
  const seen = { gets: 0 };
  const origin = http.createServer((req, res) => {
    req.resume();
    if (++seen.gets === 1) return;
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }).end('v2');
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const serve = await serveCachedPages(`http://127.0.0.1:${(origin.address() as AddressInfo).port}`, {
    cache: '{ lock_timeout: 60s }',
  });
  t.after(() => serve.stop());
  const base = `http://127.0.0.1:${serve.port}`;
  const pages = join(workersCacheDir(serve), 'pages');
  // Each try of a worker to take the key's lock makes a file `<file>.lock.<pid>.<n>` first.
  const tries: string[] = [];
  const watcher = watch(pages, (_event, name) => {
    if (name !== null) tries.push(name);
  });
  t.after(() => watcher.close());
  const get = () => request(base, { path: '/pages/doc', timeoutMs: 90_000 }).catch((err: Error) => err);
  const first = get();
  await waitUntil('the first fetch at the origin', () => seen.gets === 1, 15_000);
  const lock = readdirSync(pages).find((name) => name.endsWith('.lock'));
  assert.ok(lock !== undefined, 'the fetching worker holds the key’s lock');
  const leader = Number(/^\d+/.exec(readFileSync(join(pages, lock), 'latin1'))?.[0]);
  const other = childPids(serve.child.pid).find((pid) => pid !== leader);
  assert.ok(
    childPids(serve.child.pid).includes(leader) && other !== undefined,
    `workers: ${leader}, ${other}`,
  );
  // One more request at a time until one waits in the other worker (the workers take connections
  // in turn): none sent after it, so none comes to a worker after the kill and finds the lock
  // abandoned on its own (the replacement of the killed worker would).
  const more: Promise<ClientResponse | Error>[] = [];
  // Its try over (the file it made to take the lock removed): it found the lock held, and waits.
  const waiting = () =>
    tries.some((name) => name.startsWith(`${lock}.${other}.`) && !existsSync(join(pages, name)));
  while (!waiting() && more.length < 6) {
    more.push(get());
    await waitUntil('a request at the gateway', waiting, 2000).catch(() => {});
  }
  assert.ok(waiting(), 'a request of the other worker waiting on the lock');
  process.kill(leader, 'SIGKILL');
  await waitUntil("the other worker taking the killed worker's fetch over", () => seen.gets >= 2, 15_000);
  const answers = (await Promise.all([first, ...more])).filter(
    (a): a is ClientResponse => !(a instanceof Error) && !a.aborted,
  );
  assert.ok(answers.length > 0, 'the requests the other worker took');
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assert.equal(answer.text, 'v2');
    assert.match(String(answer.headers['cache-status']), /^edge-1; fwd=uri-miss(; ttl=\d+; collapsed)?$/);
  }
  assert.equal(seen.gets, 2, 'upstream requests: the killed fetch and the one that took it over');
  const next = await request(base, { path: '/pages/doc' });
  assert.equal(next.text, 'v2');
  assert.match(String(next.headers['cache-status']), /^edge-1; hit; ttl=\d+$/);
  assert.equal(seen.gets, 2);
});
