/**
 * A fleet gateway whose state folder is a small tmpfs of its own (a real disk, filled to its last
 * byte, then remounted read-only): the revision pushed meanwhile cannot be written where its
 * reload reads it, so it is not run; that is a refusal, shown where a refusal is (GET /status's
 * config.etcd.refused, the gauge, the record fleet status lists), not a log line alone while
 * /status says nothing is wrong; and no half-written file is left to hold the space. Skipped
 * where a tmpfs cannot be mounted (not root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  FLEET_TOKEN,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  pushDocument,
  serveGateway,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-disk-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();
let mounted = false;

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two', 'three']);
  gateway = await fleetBootstrap(dir, 'edge-disk', [etcd.endpoint]);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', gateway.state], {
      stdio: 'pipe',
    });
    mounted = true;
  } catch {
    // Not root, or no mount here: the test is skipped.
  }
});

after(async () => {
  await gateway?.serve?.stop();
  if (mounted) execFileSync('umount', ['-l', gateway?.state]);
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

/** Files that take the folder's last byte: whole pages, then what is left of the last one. */
function fill(folder: string): void {
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(folder, `filler-${i}`), Buffer.alloc(4096, 120));
    } catch {
      for (let n = 2048; n >= 1; n = Math.floor(n / 2))
        try {
          writeFileSync(join(folder, `filler-${i}-${n}`), Buffer.alloc(n, 120));
        } catch {
          // Full at this size: a smaller one may still fit.
        }
      return;
    }
  }
}

/** The gateway's own word on a revision it could not run: /status, the gauge, its record in the fleet. */
async function shownRefused(revision: number, running: number, error: RegExp): Promise<void> {
  const source = await sourceOf(gateway);
  assert.equal(source.revision, running);
  const refused = source.refused as { revision: number; problems: string[] } | null;
  assert.equal(refused?.revision, revision, JSON.stringify(source));
  assert.match(refused?.problems.join('\n') ?? '', error);
  const metrics = await request(`http://127.0.0.1:${gateway.adminPort}`, {
    path: '/metrics',
    headers: { authorization: `Bearer ${FLEET_TOKEN}` },
  });
  assert.match(
    metrics.body.toString(),
    new RegExp(`^candor_config_source_refused_revision\\{key="/candor/config"\\} ${revision}$`, 'm'),
  );
  const fleet = JSON.parse(
    (await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json'])).stdout,
  );
  const record = fleet.gateways[0] as { revision: number; behind: boolean; refused?: { revision: number } };
  assert.deepEqual([record.revision, record.behind, record.refused?.revision], [running, true, revision]);
  const logged = gateway.serve?.lines.find(
    (l) => l.msg === `config revision ${revision} refused: the running config (revision ${running}) stays`,
  );
  assert.match(String((logged?.problems as string[] | undefined)?.join('\n')), error);
}

test('a state folder full, then read-only: the revision pushed is refused and shown so, the running config serves on, and a push once there is room is applied', {
  timeout: 120_000,
}, async (t) => {
  if (!mounted) return t.skip('no tmpfs can be mounted here');
  const first = await pushDocument(gateway, dir, 'one', origins.url.one);
  await serveGateway(gateway);
  await answersWith(gateway, 'one');
  fill(gateway.state);
  const full = await pushDocument(gateway, dir, 'two', origins.url.two);
  await gateway.serve?.waitForLines(
    `config revision ${full} refused: the running config (revision ${first}) stays`,
    1,
    15_000,
  );
  await shownRefused(full, first, /ENOSPC/);
  await answersWith(gateway, 'one');
  // Nothing half-written left behind to hold the space.
  assert.deepEqual(
    readdirSync(gateway.state).filter((f) => f.endsWith('.tmp')),
    [],
  );
  for (const file of readdirSync(gateway.state))
    if (file.startsWith('filler-')) rmSync(join(gateway.state, file));
  // Room again: the same document pushed again is applied, and the refusal is history.
  const again = await pushDocument(gateway, dir, 'two-again', origins.url.two);
  await gateway.serve?.waitForLines(`config revision ${again} applied`, 1, 15_000);
  await answersWith(gateway, 'two');
  assert.equal((await sourceOf(gateway)).refused, null);
  assert.equal(JSON.parse(readFileSync(join(gateway.state, 'last-good.json'), 'utf8')).revision, again);
  execFileSync('mount', ['-o', 'remount,ro', gateway.state]);
  try {
    const readOnly = await pushDocument(gateway, dir, 'three', origins.url.three);
    await gateway.serve?.waitForLines(
      `config revision ${readOnly} refused: the running config (revision ${again}) stays`,
      1,
      15_000,
    );
    await shownRefused(readOnly, again, /EROFS/);
    await answersWith(gateway, 'two');
  } finally {
    execFileSync('mount', ['-o', 'remount,rw', gateway.state]);
  }
});
