/**
 * A reload (and the start of `candor serve`) reads its file in a process of its own, with a
 * deadline and a heap of its own: the process that runs the admin API and signals never waits
 * on a file, nor pays its memory.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { configHash } from '../../../src/core/config/config-hash.ts';
import { loadConfigFile } from '../../../src/core/config/load.ts';
import { loadConfigAndProbe, loadConfigIsolated } from '../../../src/core/config/load-isolated.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort, waitUntil } from '../../helpers/wait.ts';
import { connectRefused } from '../../server/gateway/candor-process.ts';
import { MINIMAL } from './config-fixture.ts';

const dir = tempDir('candor-load-isolated-');
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

async function refusal(load: Promise<unknown>): Promise<ConfigError['problems']> {
  try {
    await load;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('a config read in its own process is the one loadConfigFile reads, frozen', async () => {
  const path = file('ok.yaml', MINIMAL);
  const config = await loadConfigIsolated(path, {});
  assert.deepEqual(config, await loadConfigFile(path, {}));
  assert.ok(Object.isFrozen(config.routes[0]));
});

test('a config read in its own process comes with its hash, the one this process works out from the file', async () => {
  const path = file('hash.yaml', MINIMAL);
  // The loader's hash (sent along, so that the cluster primary needs no node:crypto of its own)…
  const sent = configHash(await loadConfigIsolated(path, {}));
  // …is the hash of the same file read here, worked out here, as a worker works out its own.
  assert.equal(sent, configHash(await loadConfigFile(path, {})));
  assert.match(sent, /^sha256:[0-9a-f]{16}$/);
});

test("a file's problems come back from the process with their file and line", async () => {
  const path = file('bad.yaml', `${MINIMAL}zzz: 1\n`);
  assert.deepEqual(await refusal(loadConfigIsolated(path, {})), await refusal(loadConfigFile(path, {})));
});

test('the 7-deep alias bomb is refused through the process, naming file and line', async () => {
  const lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i <= 7; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  const path = file('bomb.yaml', `${lines.join('\n')}\n`);
  const [only] = await refusal(loadConfigIsolated(path, {}));
  assert.deepEqual([only.file, only.line, only.column], [path, 5, 10]);
  assert.match(only.message, /^more than 1000 aliases to resolve/);
});

test('a load that outlives its deadline is refused and its process stopped', async () => {
  const path = file('slow.yaml', MINIMAL);
  // A process takes longer than 1 ms of CPU to start: the deadline passes before any file is read.
  // The wall-time bound far off: on a busy machine the process may not run at all within 2.5 ms
  // (the default, 2.5 × the deadline), and that bound, another refusal, would be the one passed.
  assert.deepEqual(
    await refusal(loadConfigIsolated(path, {}, { deadlineMs: 1, heapMb: 64, wallMs: 60_000 })),
    [
      {
        file: path,
        line: 0,
        column: 0,
        path: '',
        message: `reading and validating ${path} took more than 1 ms of CPU: refused (a config is read in milliseconds)`,
      },
    ],
  );
});

test('a file that needs more than the heap of its process is refused; this process keeps its memory', async () => {
  // Under the 4 MiB a config file may be (load.ts): the heap is the bound this test is about.
  const path = file('huge.yaml', `name: "${'a'.repeat(3.9 * 1024 * 1024)}"\n`);
  assert.deepEqual(await refusal(loadConfigIsolated(path, {}, { deadlineMs: 30_000, heapMb: 16 })), [
    {
      file: path,
      line: 0,
      column: 0,
      path: '',
      message: `reading and validating ${path} needed more than 16 MiB: refused (a config needs a few at most)`,
    },
  ]);
});

test('the loading process probes the listeners it is asked to: one another process holds comes back, one the gateway holds is left alone', async () => {
  const holder = createServer();
  await new Promise<void>((listening) => holder.listen(0, '127.0.0.1', listening));
  const port = (holder.address() as { port: number }).port;
  try {
    const path = file('probe.yaml', MINIMAL.replace('127.0.0.1:8080', `127.0.0.1:${port}`));
    const probed = await loadConfigAndProbe(path, [], {});
    assert.equal(probed.config.listen[0].port, port);
    assert.deepEqual(
      probed.taken.map(({ index, taken }) => [index, taken.address, taken.code]),
      [[0, `127.0.0.1:${port}`, 'EADDRINUSE']],
    );
    // A reload does not probe what the gateway already listens on: its workers hold it.
    assert.deepEqual((await loadConfigAndProbe(path, [`127.0.0.1:${port}`], {})).taken, []);
    // Nor does a plain load.
    assert.equal((await loadConfigIsolated(path, {})).listen[0].port, port);
  } finally {
    await new Promise((closed) => holder.close(closed));
  }
});

/**
 * A config whose plugin module's import waits, its event loop running (a look every 10 ms, next
 * to no CPU), until `release()`: the loader is alive and its JavaScript runs meanwhile.
 */
function waitingConfig(name: string) {
  const started = join(dir, `${name}-started`);
  const go = join(dir, `${name}-go`);
  file(
    `${name}-plugin.mjs`,
    `import { existsSync, writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(started)}, '');
while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 10));
export default () => ({});
`,
  );
  return {
    path: file(`${name}.yaml`, `${MINIMAL}plugins:\n  waiting: { module: ./${name}-plugin.mjs }\n`),
    importing: () => waitUntil('the loading process importing the plugin', () => existsSync(started)),
    release: () => writeFileSync(go, ''),
  };
}

test('a SIGUSR1 that reaches the loading process (one sent to the whole process group during a reload) opens no inspector', async () => {
  // The loader waits in its plugin's import while the signal comes: alive, its JavaScript
  // running (Node has set up its signals). (A config named as a FIFO, which held it before, is
  // refused unread now.)
  const { path, importing, release } = waitingConfig('waiting');
  // An inspector port of its own (not 9229, which other tests watch), inherited by the loader.
  const port = await freePort();
  const options = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${options ?? ''} --inspect-port=${port}`;
  const load = loadConfigIsolated(path, {});
  process.env.NODE_OPTIONS = options;
  if (options === undefined) delete process.env.NODE_OPTIONS;
  const loaders = () =>
    readdirSync('/proc').filter((entry) => {
      try {
        return (
          /^\d+$/.test(entry) &&
          readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('load-worker') &&
          readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ')[1] === String(process.pid)
        );
      } catch {
        return false; // gone meanwhile
      }
    });
  await importing();
  const [loader] = loaders();
  assert.ok(loader !== undefined, 'the loading process is there');
  process.kill(Number(loader), 'SIGUSR1');
  // Node opens it from a thread of its own, the loader's JavaScript blocked or not.
  await new Promise((r) => setTimeout(r, 300));
  const refused = await connectRefused(port);
  release();
  assert.equal(refused, true, 'the loading process opened the inspector');
  assert.deepEqual(await load, await loadConfigFile(path, {}));
});

// The deadline is of CPU time: a gateway whose workers keep every core busy is where a reload is
// asked for, and there a file read in a second of CPU takes ten of wall time.
test('a load given little CPU is not refused at the deadline in wall time: its deadline is of the CPU it ran', async () => {
  const { path, importing, release } = waitingConfig('idle');
  const started = performance.now();
  const load = loadConfigIsolated(path, {}, { deadlineMs: 3000, heapMb: 256 });
  await importing();
  // Past the deadline in wall time, waiting, next to no CPU run.
  await new Promise((r) => setTimeout(r, Math.max(0, 3500 - (performance.now() - started))));
  release();
  assert.deepEqual(await load, await loadConfigFile(path, {}));
});

test('a load past its wall time is refused whatever CPU it was given, saying how much', async () => {
  const { path, importing, release } = waitingConfig('stalled');
  const load = refusal(loadConfigIsolated(path, {}, { deadlineMs: 3000, heapMb: 256, wallMs: 1500 }));
  await importing().catch(() => {}); // a loader slower to start than 1.5 s is refused before its plugin
  const [only] = await load;
  release();
  assert.deepEqual([only.file, only.line, only.path], [path, 0, '']);
  assert.match(
    only.message,
    /^reading and validating \S+ took longer than 1500 ms, given \d+ ms of CPU \(a busy machine, or a stopped process\): refused \(a config is read in milliseconds\)$/,
  );
});
