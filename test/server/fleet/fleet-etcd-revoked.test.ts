// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ETCD_PASSWORD} is the bootstrap's syntax under test.
/**
 * A fleet gateway whose etcd user loses the key while it runs (its role's permission revoked):
 * etcd keeps a watch it created before (etcd's own behaviour), and refuses the next one, which
 * it answers "created" and cancels in one message. That is etcd refusing the gateway, said once
 * as such (`config source refuses this gateway`, GET /status "etcd refuses this gateway since …"),
 * never taken for an outage, nor for etcd found again: the gateway serves on, tries again at its
 * pace, and takes the next push once the permission is back.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { EtcdClient } from '../../../src/upstream/config-source/etcd-client.ts';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  documentTo,
  FLEET_KEY,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-revoked-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
let root: EtcdClient;
const origins = new NamedOrigins();
const b64 = (text: string) => Buffer.from(text).toString('base64');
const PERMISSION = { permType: 'READWRITE', key: b64('/candor/config'), range_end: b64('/candor/confih') };

/** etcdctl's auth calls, through the JSON gateway (Debian's etcd-server has no etcdctl), as root once auth is on. */
async function auth(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const answer = await fetch(`${etcd.endpoint}/v3/auth/${path}`, {
    method: 'POST',
    headers: token === undefined ? {} : { authorization: token },
    body: JSON.stringify(body),
  });
  assert.equal(answer.status, 200, `${path}: ${await answer.clone().text()}`);
  return (await answer.json()) as Record<string, unknown>;
}
const rootToken = async () =>
  String((await auth('authenticate', { name: 'root', password: 'root-secret' })).token);

before(async () => {
  etcd = await startEtcd();
  await origins.start(['one', 'two']);
  await auth('user/add', { name: 'root', password: 'root-secret' });
  await auth('user/grant', { user: 'root', role: 'root' });
  await auth('user/add', { name: 'candor', password: 'candor-secret' });
  await auth('role/add', { name: 'fleet' });
  await auth('role/grant', { name: 'fleet', perm: PERMISSION });
  await auth('user/grant', { user: 'candor', role: 'fleet' });
  await auth('enable', {});
  root = new EtcdClient({ endpoints: [etcd.endpoint], username: 'root', password: 'root-secret' });
  await root.put(FLEET_KEY, documentTo(origins.url.one));
  gateway = await fleetBootstrap(dir, 'edge-revoked', [etcd.endpoint]);
  const text = readFileSync(gateway.bootstrap, 'utf8').replace(
    '    key: /candor/config\n',
    '    key: /candor/config\n    username: candor\n    password: ${ETCD_PASSWORD}\n',
  );
  writeFileSync(gateway.bootstrap, text);
  gateway.serve = await startServe(gateway.bootstrap, 1, {
    admin: true,
    env: { ETCD_PASSWORD: 'candor-secret' },
  });
});
after(async () => {
  etcd?.thaw();
  await closeAll(gateway?.serve, etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

/** Waits (20 s at most) until the gateway's `config.etcd.summary` matches. */
async function summarySays(pattern: RegExp): Promise<void> {
  let summary = '';
  for (const deadline = Date.now() + 20_000; Date.now() < deadline && !pattern.test(summary); ) {
    summary = String((await sourceOf(gateway)).summary);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(summary, pattern);
}

test('a user whose permission is revoked while the gateway runs: said once as etcd refusing it, never as reachable again; granted back, the next push is taken', async () => {
  await answersWith(gateway, 'one');
  await summarySays(/^etcd reachable, running revision \d+$/);
  await auth('role/revoke', { role: 'fleet', ...PERMISSION }, await rootToken());
  // The watch created before goes on; one frozen member makes the gateway open it again.
  await etcd.freeze();
  await summarySays(/^source unreachable since /);
  const from = gateway.serve?.lines.length ?? 0;
  etcd.thaw();
  await summarySays(
    /^etcd refuses this gateway since \S+ \(etcd canceled the watch: .*permission denied\), running revision \d+$/,
  );
  await answersWith(gateway, 'one');
  await auth('role/grant', { name: 'fleet', perm: PERMISSION }, await rootToken());
  await root.put(FLEET_KEY, documentTo(origins.url.two));
  await answersWith(gateway, 'two');
  const said = (gateway.serve?.lines.slice(from) ?? [])
    .map((line) => String(line.msg))
    .filter((msg) => msg.startsWith('config source'));
  assert.deepEqual(said, [
    'config source refuses this gateway: running revision 2, serving on',
    'config source reachable again',
  ]);
});
