/**
 * The spool directory is the gateway's user's alone before a spool file goes in it. The default,
 * `candor-spool/` in the system's temporary folder, is a name any user may take first: one made
 * beforehand with mode 0777 (by another user, or open to all), or a link to elsewhere, was used
 * as found. Now the default makes a fresh private folder in its place, and a `limits.spool_dir`
 * the operator named that fails the same test is refused (the response goes on from memory,
 * `spool write failed` says why). Where each spool file lives is read from this process's
 * descriptors (the gateway runs in it; each file is unlinked as soon as it is open).
 *
 * TMPDIR points at a folder of this test's own, so the default is not the machine's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const TMP = tempDir('candor-spool-dir-test-');
process.env.TMPDIR = TMP;
after(() => rm(TMP, { recursive: true, force: true }));
const DEFAULT = join(TMP, 'candor-spool');
/** Nobody's uid: a user other than the gateway's (tests run as root, who may give a folder away). */
const OTHER_UID = 65534;
const asRoot = process.getuid?.() === 0;

const BIG = Buffer.alloc(8 * 1024 * 1024, 'b');
const upstream = await listenOnLoopback((_req, res) => {
  res.writeHead(200, { 'content-length': BIG.length });
  res.end(BIG);
});
after(() => upstream.close());

function config(spoolDir?: string): string {
  return `name: edge-1
${spoolDir === undefined ? '' : `limits:\n  spool_dir: ${spoolDir}\n`}routes:
  - match: { path: / }
    upstream: app
    limits: { buffer: 64KiB }
upstreams:
  app:
    targets:
      - url: ${upstream.url}
`;
}

/** Where the gateway's spool files are (links of this process's descriptors into TMP), once one is open. */
async function spoolFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (link.startsWith(TMP) && link.includes('candor-spool-')) out.push(link);
  }
  return out;
}

/**
 * A client that asks for the 8 MiB answer and reads nothing: past the 64 KiB buffer its answer
 * spools. Returns the spool file's path, then reads the answer whole and returns its length.
 */
async function spooledVia(gw: TestGateway): Promise<{ file: string | undefined; bytes: number }> {
  const socket = net.connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow\r\nConnection: close\r\n\r\n');
  try {
    await waitUntil(
      'the answer spooled, or waited in memory',
      () =>
        gw.gateway.runtime().spool.overflowBytes > 0 || gw.logs.some((l) => l.msg === 'spool write failed'),
      10_000,
    );
    const [file] = await spoolFiles();
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.resume();
    await once(socket, 'close');
    return { file, bytes };
  } finally {
    socket.destroy();
  }
}

/** The folder a spool file was in, and that folder's owner and mode. */
async function folderOf(file: string | undefined): Promise<{ dir: string; uid: number; mode: number }> {
  assert.ok(file, 'a spool file was open');
  const dir = file.slice(0, file.lastIndexOf('/'));
  const found = await stat(dir);
  return { dir, uid: found.uid, mode: found.mode & 0o777 };
}

async function withGateway(yaml: string, run: (gw: TestGateway) => Promise<void>): Promise<void> {
  const gw = await startTestGateway(yaml);
  try {
    await run(gw);
  } finally {
    await gw.close();
  }
}

test('the default spool folder made beforehand by another user, mode 0777, is not used: a private one of its own is', {
  skip: !asRoot && 'needs root to give a folder to another user',
  timeout: 30_000,
}, async () => {
  await mkdir(DEFAULT);
  await chmod(DEFAULT, 0o777);
  await chown(DEFAULT, OTHER_UID, OTHER_UID);
  try {
    await withGateway(config(), async (gw) => {
      const { file, bytes } = await spooledVia(gw);
      assert.equal(bytes > BIG.length, true, 'the answer came whole');
      const folder = await folderOf(file);
      assert.notEqual(folder.dir, DEFAULT, `not in the other user's folder: ${file}`);
      assert.match(folder.dir, new RegExp(`^${TMP}/candor-spool-own-`));
      assert.deepEqual([folder.uid, folder.mode], [process.getuid?.(), 0o700]);
    });
  } finally {
    await rm(DEFAULT, { recursive: true, force: true });
  }
});

test("the default spool folder of the gateway's own user but open to all (0777) is not used as it is either", {
  timeout: 30_000,
}, async () => {
  await mkdir(DEFAULT);
  await chmod(DEFAULT, 0o777);
  try {
    await withGateway(config(), async (gw) => {
      const folder = await folderOf((await spooledVia(gw)).file);
      assert.notEqual(folder.dir, DEFAULT);
      assert.equal(folder.mode, 0o700);
      assert.equal((await stat(DEFAULT)).mode & 0o777, 0o777, 'the folder found is left as it was');
    });
  } finally {
    await rm(DEFAULT, { recursive: true, force: true });
  }
});

test('the default spool folder as a symbolic link to another folder is not followed', {
  timeout: 30_000,
}, async () => {
  const elsewhere = join(TMP, 'elsewhere');
  await mkdir(elsewhere, { mode: 0o700 });
  await symlink(elsewhere, DEFAULT);
  try {
    await withGateway(config(), async (gw) => {
      const folder = await folderOf((await spooledVia(gw)).file);
      assert.notEqual(folder.dir, elsewhere);
      assert.notEqual(folder.dir, DEFAULT);
      assert.equal(folder.mode, 0o700);
    });
  } finally {
    await rm(DEFAULT, { force: true });
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test('a named spool_dir open to all (0777) is refused, saying why; the answer still comes whole, from memory', {
  timeout: 30_000,
}, async () => {
  const named = join(TMP, 'named');
  await mkdir(named);
  await chmod(named, 0o777);
  try {
    await withGateway(config(named), async (gw) => {
      const { file, bytes } = await spooledVia(gw);
      assert.equal(file, undefined, 'no spool file anywhere');
      assert.equal(bytes > BIG.length, true, 'the answer came whole');
      const warning = gw.logs.find((l) => l.msg === 'spool write failed');
      assert.equal(warning?.dir, named);
      assert.equal(
        warning?.details,
        `the spool directory "${named}" may be written by others than its user (mode 777): no spool file is made there`,
      );
    });
  } finally {
    await rm(named, { recursive: true, force: true });
  }
});

test("a default spool folder of the gateway's user alone (as the gateway makes it) is used", {
  timeout: 30_000,
}, async () => {
  await withGateway(config(), async (gw) => {
    const folder = await folderOf((await spooledVia(gw)).file);
    assert.equal(folder.dir, DEFAULT);
    assert.equal(folder.mode, 0o700);
  });
  await rm(DEFAULT, { recursive: true, force: true });
});

test('the private folder made in place of a default open to all goes when its process exits: not one left a start', {
  timeout: 30_000,
}, async () => {
  // A worker's own folder, made once per process: every start (each worker, each restart) made
  // another, and none was ever removed. Its spool files are unlinked as soon as they are open.
  await mkdir(DEFAULT);
  await chmod(DEFAULT, 0o777);
  try {
    const module = join(import.meta.dirname, '../../../src/proxy/forward/spool-dir.ts');
    const source = `import { privateSpoolDir } from ${JSON.stringify(module)};
console.log(await privateSpoolDir(${JSON.stringify(DEFAULT)}, true));`;
    const { stdout, status } = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
      env: { ...process.env, TMPDIR: TMP },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(status, 0);
    const own = stdout.trim();
    assert.match(own, new RegExp(`^${TMP}/candor-spool-own-`));
    assert.equal(existsSync(own), false, `${own} removed at the process's exit`);
  } finally {
    await rm(DEFAULT, { recursive: true, force: true });
  }
});
