/**
 * A fetch lock's file of `cache.dir` (fill-lock.ts: `<file>.lock`) replaced by something that is
 * no small regular file: a FIFO nobody writes (its open would wait for a writer
 * for ever, holding one of the few threads every file operation of the worker shares), a link
 * to /dev/zero (read to its end, it has none). The request is answered all the same, and the
 * worker's other requests too.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { cachedPages, storedIn } from '../../helpers/cached-pages.ts';
import { smallDisk } from '../../helpers/faulty-disk.ts';
import { request } from '../../helpers/http-client.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const config = (url: string, dir: string) =>
  cachedPages(url, `{ dir: ${dir}, max_disk: 10MiB, lock_timeout: 2s }`);
const host = { host: 'pages.test' };

async function setUp(t: TestContext) {
  const dir = smallDisk(t, '1m');
  if (dir === undefined) return undefined;
  const origin = await startMoodyOrigin({
    status: 200,
    fields: ['Cache-Control', 'max-age=60'],
    body: 'fresh',
  });
  t.after(() => origin.stop());
  const gateways: TestGateway[] = [];
  t.after(() => Promise.all(gateways.map((gw) => gw.close())));
  const gateway = async () => {
    const gw = await startTestGateway(config(origin.url, dir));
    gateways.push(gw);
    return gw;
  };
  return { dir, origin, gateway };
}

/** The file name /pages/<name> is stored under, learnt by storing it once in a gateway of its own. */
async function fileOf(dir: string, gateway: () => Promise<TestGateway>, name: string): Promise<string> {
  const before = new Set(storedIn(dir));
  const gw = await gateway();
  await request(gw.url, { path: `/pages/${name}`, headers: host });
  await waitUntil('stored', () => storedIn(dir).some((f) => !before.has(f)));
  const file = join(dir, 'pages', storedIn(dir).find((f) => !before.has(f)) as string);
  // Its fetch lock goes once the store is done, a moment after the file is there (on a loaded
  // machine, after the test made its own in its place: mkfifo found it there).
  await waitUntil('its fetch lock gone', () => !existsSync(`${file}.lock`));
  return file;
}

for (const [shape, make] of [
  ['a FIFO nobody writes', (path: string) => execFileSync('mkfifo', [path])],
  ['a link to /dev/zero', (path: string) => execFileSync('ln', ['-s', '/dev/zero', path])],
] as [string, (path: string) => void][])
  for (const suffix of ['lock'])
    test(`a key's .${suffix} file ${shape}: five such keys' requests are answered, and another request after them`, async (t) => {
      const set = await setUp(t);
      if (set === undefined) return;
      const { dir, gateway } = set;
      mkdirSync(join(dir, 'pages'), { recursive: true });
      // Five keys: more than libuv's four threads, which a blocking open would hold each.
      const names = ['k1', 'k2', 'k3', 'k4', 'k5'];
      const files = [];
      for (const name of names) files.push(await fileOf(dir, gateway, name));
      for (const file of files) {
        execFileSync('rm', ['-f', file]);
        make(`${file}.${suffix}`);
      }
      const gw = await gateway();
      const answers = await Promise.all(
        names.map((name) => request(gw.url, { path: `/pages/${name}`, headers: host, timeoutMs: 8000 })),
      );
      for (const got of answers) {
        assert.equal(got.status, 200);
        assert.equal(got.text, 'fresh');
      }
      const after = await request(gw.url, { path: '/pages/other', headers: host, timeoutMs: 8000 });
      assert.equal(after.status, 200);
    });
