/**
 * `upstreams.*.discovery` against a real DNS server: Debian's Knot DNS serving a zone on a
 * loopback port, its records changed while the gateway runs by dynamic updates (RFC 2136,
 * `knsupdate`), as an operator's DNS (Consul, CoreDNS, a headless Service) changes them.
 * Upstreams listen on 127.0.0.x and ::1; what they saw is what is asserted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type Knot, startKnot } from '../../helpers/knot.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { waitUntil } from '../../helpers/wait.ts';

const ZONE = 'disc.test';

/** One upstream server: what reached it, its open connections, and its health answer. */
interface App {
  readonly host: string;
  readonly server: http.Server;
  readonly sockets: Set<Socket>;
  hits: number;
  /** Health-check probes received. */
  probes: number;
  health: number;
  /** Resets each request's connection (a gateway failure: ejection, the circuit). */
  fail: boolean;
  /** Requests to /slow wait here until the test lets them go. */
  held: (() => void)[];
}

const apps = new Map<string, App>();
let port = 0;
let knot: Knot;
let gw: TestGateway;
let six: App;
/** A resolver that takes every question and answers none. */
let silent: dgram.Socket;
const srv: App[] = [];

async function listen(host: string, at: number): Promise<App> {
  const app: App = {
    host,
    server: http.createServer(),
    sockets: new Set(),
    hits: 0,
    probes: 0,
    health: 200,
    fail: false,
    held: [],
  };
  app.server.on('connection', (socket: Socket) => {
    app.sockets.add(socket);
    socket.on('close', () => app.sockets.delete(socket));
  });
  app.server.on('request', (req, res) => {
    if (req.url === '/health') {
      app.probes++;
      res.statusCode = app.health;
      res.end();
      return;
    }
    app.hits++;
    if (app.fail) {
      req.socket.destroy();
      return;
    }
    if (req.url?.startsWith('/slow')) app.held.push(() => res.end(host));
    else res.end(host);
  });
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen(at, host, resolve);
  });
  apps.set(host, app);
  return app;
}

/** Changes the zone (RFC 2136, signed with the zone's key): `lines` of knsupdate's `update` commands. */
function update(...lines: string[]): void {
  execFileSync('knsupdate', ['-y', `hmac-sha256:${knot.keyName}:${knot.secret}`], {
    input: `server 127.0.0.1 ${knot.port}\nzone ${ZONE}.\n${lines.join('\n')}\nsend\n`,
    timeout: 10_000,
  });
}

/** The A records of `name` set to `addresses` (TTL 1 s): none deletes the name. */
const setA = (name: string, addresses: readonly string[], type = 'A') =>
  update(
    `update delete ${name}.${ZONE}. ${type}`,
    ...addresses.map((a) => `update add ${name}.${ZONE}. 1 ${type} ${a}`),
  );

before(async () => {
  const first = await listen('127.0.0.1', 0);
  port = (first.server.address() as AddressInfo).port;
  for (const host of [
    '127.0.0.2',
    '127.0.0.3',
    '127.0.0.4',
    '127.0.0.5',
    '127.0.0.6',
    '127.0.0.7',
    '127.0.0.8',
  ])
    await listen(host, port);
  knot = await startKnot(ZONE);
  // The helper's zone answers every name (a wildcard): here only what a test writes exists.
  update(`update delete *.${ZONE}. A`);
  setA('load', ['127.0.0.1', '127.0.0.2']);
  setA('hc', ['127.0.0.3']);
  setA('twin', ['127.0.0.1']);
  setA('ej', ['127.0.0.5', '127.0.0.6']);
  setA('cb', ['127.0.0.8']);
  six = await listen('::1', 0);
  update(`update add six.${ZONE}. 1 AAAA ::1`);
  for (const [prio, weight] of [
    [0, 0],
    [0, 1],
    [1, 5],
  ]) {
    const app = await listen('::', 0);
    srv.push(app);
    update(
      `update add _http._tcp.${ZONE}. 1 SRV ${prio} ${weight} ${(app.server.address() as AddressInfo).port} localhost.`,
    );
  }
  const many: string[] = [];
  for (let i = 1; i <= 200; i++)
    many.push(`update add many.${ZONE}. 1 A 127.0.${Math.floor(i / 200)}.${i % 200}`);
  many.push(
    `update add mixed.${ZONE}. 1 A 127.0.0.1`,
    `update add mixed.${ZONE}. 1 A 169.254.169.254`,
    `update add mixed.${ZONE}. 1 A 0.0.0.0`,
  );
  update(...many);
  silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  gw = await startTestGateway(yaml());
});

after(async () => {
  await closeAll(gw);
  for (const app of apps.values()) {
    for (const release of app.held) release();
    app.server.closeAllConnections();
  }
  await closeAll(
    [...apps.values()].map((a) => a.server),
    silent,
  );
  await knot?.stop();
});

const discovery = (name: string, ttls = 'min_ttl: 100ms, max_ttl: 1s') =>
  `{ dns: ${name}.${ZONE}, port: ${port}, resolvers: [${knot.address}], interval: 200ms, ${ttls} }`;

function yaml(loadName = 'load', loadTtls?: string): string {
  return `name: edge-1
routes:
  - { match: { path: /load }, upstream: load }
  - { match: { path: /slow }, upstream: load }
  - { match: { path: /hc }, upstream: hc }
  - { match: { path: /refused }, upstream: refused }
  - { match: { path: /twin-a }, upstream: twin_a }
  - { match: { path: /twin-b }, upstream: twin_b }
  - { match: { path: /ej }, upstream: ej }
  - { match: { path: /cb }, upstream: cb }
  - { match: { path: /six }, upstream: six }
  - { match: { path: /srv }, upstream: srv }
  - { match: { path: /mixed }, upstream: mixed }
upstreams:
  load:
    discovery: ${discovery(loadName, loadTtls)}
  hc:
    discovery: ${discovery('hc')}
    health_check: { path: /health, interval: 100ms, timeout: 1s, fall: 1, rise: 1 }
  refused:
    discovery: { dns: api.not-this-zone.test, port: ${port}, resolvers: [${knot.address}], interval: 200ms, max_ttl: 1s }
  twin_a:
    discovery: ${discovery('twin')}
  twin_b:
    discovery: ${discovery('twin')}
  ej:
    discovery: ${discovery('ej')}
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 10m, max_ejected_percent: 50 }
  cb:
    discovery: ${discovery('cb')}
    outlier_detection: { consecutive_failures: 0 }
    circuit_breaker: { consecutive_failures: 2, open_time: 10m }
  six:
    discovery: { dns: six.${ZONE}, type: AAAA, port: ${(six.server.address() as AddressInfo).port}, resolvers: [${knot.address}], interval: 200ms, min_ttl: 100ms, max_ttl: 1s }
  srv:
    discovery: { dns: _http._tcp.${ZONE}, type: SRV, resolvers: [${knot.address}], interval: 200ms, max_ttl: 1s }
    health_check: { path: /health, interval: 100ms, timeout: 1s, fall: 1, rise: 1 }
  many:
    discovery: ${discovery('many', 'min_ttl: 100ms, max_ttl: 1s, max_targets: 5')}
  mixed:
    discovery: ${discovery('mixed')}
`;
}

const origins = (upstream: string) =>
  gw.gateway
    .runtime()
    .upstreams.get(upstream)
    ?.targets.map((t) => t.config.origin) ?? [];
const at = (...hosts: string[]) => hosts.map((h) => `http://${h}:${port}`);
const get = (path: string) =>
  request(gw.url, {
    path,
    headers: { accept: 'application/json', 'x-request-id': `${path}-${Math.random()}` },
  });

test('an answer Knot gives becomes the targets; an address added is used, one removed drained: its request in flight finishes, no new one reaches it, its pooled connection is closed', async () => {
  await waitUntil('the first answer', () => origins('load').length === 2);
  assert.deepEqual(origins('load'), at('127.0.0.1', '127.0.0.2'));
  // Pooled connections to both: requests until each has had one.
  await waitUntil('both reached', async () => {
    await get('/load');
    return apps.get('127.0.0.1')!.hits > 0 && apps.get('127.0.0.2')!.hits > 0;
  });
  // One request held at 127.0.0.2 while the name moves from .2 to .3 (.1 stays).
  const two = apps.get('127.0.0.2')!;
  let slow: Promise<Awaited<ReturnType<typeof get>>> | undefined;
  const slowOnes: Promise<Awaited<ReturnType<typeof get>>>[] = [];
  await waitUntil('a slow request held at 127.0.0.2', () => {
    if (two.held.length > 0) return true;
    slow = get(`/slow/${slowOnes.length}`);
    slowOnes.push(slow);
    return false;
  });
  setA('load', ['127.0.0.1', '127.0.0.3']);
  await waitUntil(
    'the new answer applied',
    () => origins('load').join() === at('127.0.0.1', '127.0.0.3').join(),
  );
  const hitsAtTwo = two.hits;
  // Under load: every request answered, none at 127.0.0.2 any more, 127.0.0.3 reached.
  const answers = await Promise.all(Array.from({ length: 20 }, () => get('/load')));
  assert.deepEqual(
    answers.map((r) => r.status),
    answers.map(() => 200),
  );
  assert.ok(
    answers.some((r) => r.text === '127.0.0.3'),
    'the added address takes requests',
  );
  assert.ok(answers.every((r) => r.text !== '127.0.0.2'));
  assert.equal(two.hits, hitsAtTwo, 'no new request reached the removed address');
  // The request in flight finishes on its connection, which then closes.
  for (const release of two.held.splice(0)) release();
  for (const app of apps.values()) for (const release of app.held.splice(0)) release();
  const finished = await Promise.all(slowOnes);
  assert.ok(finished.every((r) => r.status === 200));
  assert.ok(finished.some((r) => r.text === '127.0.0.2'));
  await waitUntil('the removed address has no connection from the gateway', () => two.sockets.size === 0);
  const line = gw.logs.findLast((l) => l.msg === 'discovered targets changed');
  assert.deepEqual(line?.removed, at('127.0.0.2'));
  assert.deepEqual(line?.added, at('127.0.0.3'));
});

test("a target that stays across answers keeps its health checks' verdict: failing, it gets no request when the answer adds another", async () => {
  await waitUntil('hc found', () => origins('hc').length === 1);
  const three = apps.get('127.0.0.3')!;
  three.health = 503;
  const unhealthy = () =>
    gw.gateway.status().upstreams.hc.targets.find((t) => t.url === at('127.0.0.3')[0])?.health ===
    'unhealthy';
  await waitUntil('127.0.0.3 taken out by its check', unhealthy);
  setA('hc', ['127.0.0.3', '127.0.0.4']);
  await waitUntil('the answer applied', () => origins('hc').length === 2);
  assert.ok(unhealthy(), 'still out after the answer');
  const hitsBefore = three.hits;
  const answers = await Promise.all(Array.from({ length: 6 }, () => get('/hc')));
  assert.deepEqual(new Set(answers.map((r) => r.text)), new Set(['127.0.0.4']));
  assert.equal(three.hits, hitsBefore);
  three.health = 200;
});

test('a target an answer removes is no longer probed by the health checks', async () => {
  const three = apps.get('127.0.0.3')!;
  const four = apps.get('127.0.0.4')!;
  setA('hc', ['127.0.0.4']);
  await waitUntil('the answer applied', () => origins('hc').join() === at('127.0.0.4').join());
  const probesAtThree = three.probes;
  const probesAtFour = four.probes;
  // Five more probes of the target that stays: the one that left got none (at most one already out).
  await waitUntil('five more probes of 127.0.0.4', () => four.probes >= probesAtFour + 5);
  assert.ok(
    three.probes <= probesAtThree + 1,
    `127.0.0.3 probed ${three.probes - probesAtThree} times after it left`,
  );
});

test('REFUSED (a name outside the server’s zones) before the first answer: 502 dns_error with rcode REFUSED', async () => {
  await waitUntil(
    'refused asked',
    () => gw.gateway.status().upstreams.refused.discovery?.failure === 'EREFUSED',
  );
  const res = await get('/refused');
  assert.equal(res.status, 502);
  assert.equal(
    res.headers['proxy-status'],
    'edge-1; error=dns_error; rcode="REFUSED"; details="the DNS lookup of api.not-this-zone.test (A) failed (REFUSED): \\"refused\\" has no target yet"; next-hop="refused"',
  );
});

test('two upstreams asking one name each follow it', async () => {
  await waitUntil('both found', () => origins('twin_a').length === 1 && origins('twin_b').length === 1);
  setA('twin', ['127.0.0.2']);
  await waitUntil(
    'both follow',
    () => origins('twin_a')[0] === at('127.0.0.2')[0] && origins('twin_b')[0] === at('127.0.0.2')[0],
  );
  assert.equal((await get('/twin-a')).text, '127.0.0.2');
  assert.equal((await get('/twin-b')).text, '127.0.0.2');
});

test('after a good answer, NXDOMAIN keeps the last good set: a warn line and the status page say it', async () => {
  setA('twin', []);
  await waitUntil(
    'the failure seen',
    () => gw.gateway.status().upstreams.twin_a.discovery?.failure === 'ENOTFOUND',
  );
  assert.equal((await get('/twin-a')).text, '127.0.0.2');
  const line = gw.logs.find(
    (l) => l.msg === 'discovery failed: the last good targets are kept' && l.upstream === 'twin_a',
  );
  assert.equal(line?.failure, 'ENOTFOUND');
  assert.deepEqual(line?.kept, at('127.0.0.2'));
  update(`update add twin.${ZONE}. 1 TXT "no address"`);
  await waitUntil('empty seen', () => gw.gateway.status().upstreams.twin_a.discovery?.failure === 'empty');
  assert.equal((await get('/twin-a')).text, '127.0.0.2');
});

test('a target ejected (outlier detection) stays ejected when an answer adds another', async () => {
  await waitUntil('ej found', () => origins('ej').length === 2);
  const five = apps.get('127.0.0.5')!;
  five.fail = true;
  const ejected = () =>
    gw.gateway.status().upstreams.ej.targets.find((t) => t.url === at('127.0.0.5')[0])?.ejected === true;
  await waitUntil('127.0.0.5 ejected', async () => {
    await get('/ej');
    return ejected();
  });
  five.fail = false;
  const hitsBefore = five.hits;
  setA('ej', ['127.0.0.5', '127.0.0.6', '127.0.0.7']);
  await waitUntil('the answer applied', () => origins('ej').length === 3);
  assert.ok(ejected(), 'still ejected after the answer');
  const answers = await Promise.all(Array.from({ length: 8 }, () => get('/ej')));
  assert.deepEqual(
    answers.map((r) => r.status),
    answers.map(() => 200),
  );
  assert.equal(five.hits, hitsBefore, 'the ejected target took no request');
});

test('an open circuit stays open when an answer keeps one of its targets and adds another (as a reload keeps it)', async () => {
  await waitUntil('cb found', () => origins('cb').length === 1);
  const eight = apps.get('127.0.0.8')!;
  eight.fail = true;
  await waitUntil('the circuit open', async () => {
    await get('/cb');
    return gw.gateway.status().upstreams.cb.circuit.state === 'open';
  });
  eight.fail = false;
  setA('cb', ['127.0.0.8', '127.0.0.6']);
  await waitUntil('the answer applied', () => origins('cb').length === 2);
  assert.equal(gw.gateway.status().upstreams.cb.circuit.state, 'open');
  assert.equal((await get('/cb')).status, 503);
});

test('an answer that replaces every target of an open circuit starts it closed (as a reload that does)', async () => {
  setA('cb', ['127.0.0.7']);
  await waitUntil('the answer applied', () => origins('cb').join() === at('127.0.0.7').join());
  assert.equal(gw.gateway.status().upstreams.cb.circuit.state, 'closed');
  const res = await get('/cb');
  assert.equal(res.status, 200);
  assert.equal(res.text, '127.0.0.7');
});

test('AAAA: an answer of ::1 is a target in brackets, and takes requests', async () => {
  await waitUntil('six found', () => origins('six').length === 1);
  assert.deepEqual(origins('six'), [`http://[::1]:${(six.server.address() as AddressInfo).port}`]);
  const res = await get('/six');
  assert.equal(res.status, 200);
  assert.equal(res.text, '::1');
});

test('SRV: weight 0 counts as 1 (both primaries take requests); the backup takes them only when every primary fails its check', async () => {
  await waitUntil('srv found', () => origins('srv').length === 3);
  const targets = gw.gateway.status().upstreams.srv.targets;
  assert.deepEqual(
    targets.map((t) => [t.priority, t.config_weight]).sort((a, b) => a[0] - b[0]),
    [
      [0, 1],
      [0, 1],
      [1, 5],
    ],
  );
  await waitUntil('all checked healthy', () =>
    gw.gateway.status().upstreams.srv.targets.every((t) => t.health === 'healthy'),
  );
  const before = srv.map((a) => a.hits);
  await Promise.all(Array.from({ length: 8 }, () => get('/srv')));
  assert.ok(srv[0].hits > before[0] && srv[1].hits > before[1], 'both primaries took requests');
  assert.equal(srv[2].hits, before[2], 'the backup took none');
  srv[0].health = 503;
  await waitUntil('the first primary out', () =>
    gw.gateway.status().upstreams.srv.targets.some((t) => t.health === 'unhealthy'),
  );
  const mid = srv[2].hits;
  await Promise.all(Array.from({ length: 4 }, () => get('/srv')));
  assert.equal(srv[2].hits, mid, 'one primary left: the backup still takes none');
  srv[1].health = 503;
  await waitUntil(
    'both primaries out',
    () => gw.gateway.status().upstreams.srv.targets.filter((t) => t.health === 'unhealthy').length === 2,
  );
  const answers = await Promise.all(Array.from({ length: 4 }, () => get('/srv')));
  assert.deepEqual(
    answers.map((r) => r.status),
    answers.map(() => 200),
  );
  assert.equal(srv[2].hits, mid + 4, 'the backup took them all');
  srv[0].health = 200;
  srv[1].health = 200;
});

test('an answer of 200 records (truncated over UDP, asked again over TCP) keeps max_targets of them and says how many it cut', async () => {
  await waitUntil('many found', () => origins('many').length > 0);
  assert.equal(origins('many').length, 5);
  const line = gw.logs.find(
    (l) => l.msg === 'discovery left records out: the others are used' && l.upstream === 'many',
  );
  assert.equal(line?.cut, 195);
});

test('an answer pointing at the metadata address and 0.0.0.0: those left out and named, the good one used', async () => {
  await waitUntil('mixed found', () => origins('mixed').length > 0);
  assert.deepEqual(origins('mixed'), at('127.0.0.1'));
  const line = gw.logs.find(
    (l) => l.msg === 'discovery left records out: the others are used' && l.upstream === 'mixed',
  );
  assert.deepEqual(
    ((line?.refused ?? []) as { record: string }[]).map((r) => r.record),
    ['0.0.0.0', '169.254.169.254'],
  );
  assert.equal((await get('/mixed')).text, '127.0.0.1');
});

test('after a good answer, one whose every record is refused keeps the last good set (a failure, said)', async () => {
  update(`update delete mixed.${ZONE}. A`, `update add mixed.${ZONE}. 1 A 169.254.169.254`);
  await waitUntil(
    'the failure seen',
    () => gw.gateway.status().upstreams.mixed.discovery?.failure === 'EBADRECORD',
  );
  assert.deepEqual(origins('mixed'), at('127.0.0.1'));
  assert.equal((await get('/mixed')).text, '127.0.0.1');
  assert.ok(
    gw.logs.some(
      (l) =>
        l.msg === 'discovery failed: the last good targets are kept' &&
        l.upstream === 'mixed' &&
        l.failure === 'EBADRECORD',
    ),
  );
});

test('a reload that changes discovery asks at once (min_ttl far off): the new set comes', async () => {
  setA('moved', ['127.0.0.4']);
  // A min_ttl of 10 minutes: the old runner would not ask again before the test ends.
  await gw.gateway.reload(
    parseConfig(
      `listen:\n  - address: 127.0.0.1:0\n${yaml('moved', 'min_ttl: 10m, max_ttl: 20m')}`,
      '<test>',
      {},
    ),
  );
  await waitUntil('the new name answered', () => origins('load').join() === at('127.0.0.4').join(), 5000);
  assert.equal((await get('/load')).text, '127.0.0.4');
});

test('discovery taken off an upstream and given back: until its first answer, no target (503 while the question is out), not the set of the discovery before', async () => {
  const reload = (load: string) =>
    gw.gateway.reload(
      parseConfig(
        `listen:\n  - address: 127.0.0.1:0\n${yaml().replace(/ {2}load:\n {4}discovery: .*\n/, load)}`,
        '<test>',
        {},
      ),
    );
  await reload(`  load:\n    targets: [{ url: "http://127.0.0.2:${port}" }]\n`);
  assert.equal((await get('/load')).text, '127.0.0.2');
  await reload(
    `  load:\n    discovery: { dns: load.${ZONE}, port: ${port}, resolvers: ["127.0.0.1:${silent.address().port}"] }\n    timeouts: { connect: 10s }\n`,
  );
  const res = await get('/load');
  assert.equal(res.status, 503, `answered by ${res.text}`);
  assert.equal(
    res.headers['proxy-status'],
    `edge-1; error=destination_unavailable; details="waiting for the first DNS answer for load.${ZONE} (A): \\"load\\" has no target yet"; next-hop="load"`,
  );
});
