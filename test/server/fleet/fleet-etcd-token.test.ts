// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ETCD_PASSWORD} is the bootstrap's syntax under test.
/**
 * A fleet gateway with an etcd user whose tokens expire between its calls (etcd's
 * --auth-token-ttl, 300 s by default, here 1 s, under the lease's renewal every 3.3 s): it takes
 * a new token when etcd says the one it has expired (docs/fleet.md), so its lease lives on, it is
 * never said refused or unreachable, and a push made long after its first token is applied.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../helpers/etcd-server.ts';
import {
  answersWith,
  candor,
  documentTo,
  type FleetGateway,
  fleetBootstrap,
  NamedOrigins,
  sourceOf,
} from '../../helpers/fleet-gateways.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-fleet-token-');
let etcd: EtcdProcess;
let gateway: FleetGateway;
const origins = new NamedOrigins();
const right = { ETCD_PASSWORD: 'candor-secret' };

before(async () => {
  etcd = await startEtcd(undefined, ['--auth-token-ttl', '1']);
  await origins.start(['one', 'two']);
  const call = async (path: string, body: unknown) => {
    const answer = await fetch(`${etcd.endpoint}/v3/auth/${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    assert.equal(answer.status, 200, `${path}: ${await answer.clone().text()}`);
  };
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  await call('user/add', { name: 'root', password: 'root-secret' });
  await call('user/grant', { user: 'root', role: 'root' });
  await call('user/add', { name: 'candor', password: right.ETCD_PASSWORD });
  await call('role/add', { name: 'fleet' });
  await call('role/grant', {
    name: 'fleet',
    perm: { permType: 'READWRITE', key: b64('/candor/config'), range_end: b64('/candor/confih') },
  });
  await call('user/grant', { user: 'candor', role: 'fleet' });
  await call('enable', {});
  gateway = await fleetBootstrap(dir, 'edge-token', [etcd.endpoint]);
  const text = readFileSync(gateway.bootstrap, 'utf8').replace(
    '    key: /candor/config\n',
    '    key: /candor/config\n    username: candor\n    password: ${ETCD_PASSWORD}\n',
  );
  writeFileSync(gateway.bootstrap, text);
});

after(async () => {
  await gateway?.serve?.stop();
  await closeAll(etcd, ...origins.servers);
  rmSync(dir, { recursive: true, force: true });
});

const push = async (name: string) => {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, documentTo(origins.url[name]));
  const pushed = await candor(['config', 'push', file, '--config', gateway.bootstrap], right);
  assert.equal(pushed.code, 0, pushed.stderr);
  return Number(/revision (\d+)/.exec(pushed.stdout)?.[1]);
};

test("a token that expires between the gateway's calls is taken again: the lease lives on and a later push is applied", {
  timeout: 60_000,
}, async () => {
  await push('one');
  gateway.serve = await startServe(gateway.bootstrap, 1, { admin: true, env: right });
  await answersWith(gateway, 'one');
  // Past several renewals of the lease, each with a token etcd let expire since the last.
  await new Promise((r) => setTimeout(r, 12_000));
  const fleet = JSON.parse(
    (await candor(['fleet', 'status', '--config', gateway.bootstrap, '--json'], right)).stdout,
  );
  assert.deepEqual(
    fleet.gateways.map((g: { name: string }) => g.name),
    ['edge-token'],
  );
  const revision = await push('two');
  await answersWith(gateway, 'two');
  const source = await sourceOf(gateway);
  assert.equal(source.summary, `etcd reachable, running revision ${revision}`);
  assert.equal(source.denied, null);
  const said = (gateway.serve?.lines ?? []).map((l) => String(l.msg));
  assert.deepEqual(
    said.filter((m) => /refuses this gateway|source unreachable|lease/.test(m)),
    [],
  );
});
