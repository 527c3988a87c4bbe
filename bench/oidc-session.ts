/**
 * What a signed-in OpenID Connect session costs a request, in µs of the gateway's CPU: its
 * cookies read, decrypted (a JWE, dir + A256GCM) and checked (expiry, allowed claims), the user
 * passed on, against a route without auth on the same gateway (with and without the same cookie
 * sent, which the gateway then only parses), in the same run:
 *
 *   node_modules/.bin/node bench/oidc-session.ts                         # 5 rounds of 5 s per row
 *   node_modules/.bin/node bench/oidc-session.ts --rounds=1 --seconds=2  # a smoke check
 *
 * Starts a node:http origin (100-byte answers) and one `candor serve --workers 1` with two routes:
 * `/plain` (no auth) and `/app` (auth.oidc, `allowed` one claim, identity_header). The session is
 * sealed by the bench with the gateway's cookie secret, as a sign-in would have: the ID token's
 * claims, a 1 KB ID token (the logout's hint) and a refresh token, good for hours, so no request
 * asks the provider anything (its issuer is a port nothing listens on, and the check never calls
 * it: a request that did would fail, and the bench with it). The load is this script's own
 * keep-alive clients (no wrk needed), rows alternated round after round (the order rotating), so
 * drift on a shared machine hits both alike; each row's figure is the gateway's CPU time
 * (utime + stime of its primary and worker, from /proc) over the requests it answered, the median
 * of the rounds. Load on the machine changes req/s much more than CPU per request: the figure to read.
 */
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CookieSeal } from '../src/proxy/admit/oidc/session-cookie.ts';
import { openDir, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { processTree } from './rss.ts';
import { startCandor } from './systems.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;
const SECRET = 'the bench gateway session cookie secret, 32+ characters';
process.env.CANDOR_BENCH_OIDC_COOKIE = SECRET;

const dir = runDir('candor-bench-oidc-');
const origin = http.createServer((_req, res) => res.end('x'.repeat(99)));
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
const [port, deadPort] = await freePorts(2);

const gateway: PinnedProcess = await startCandor(
  { dir: openDir(join(dir, 'gateway')), port },
  `name: bench-oidc
listen: [{ address: 127.0.0.1:${port} }]
log: { level: warn }
routes:
  - name: plain
    match: { path: /plain }
    upstream: origin
  - name: app
    match: { path: / }
    upstream: origin
    auth:
      identity_header: X-User
      oidc:
        issuer: http://127.0.0.1:${deadPort}
        client_id: bench
        cookie: { secret_env: CANDOR_BENCH_OIDC_COOKIE }
        identity_claim: email
        allowed: { groups: [staff] }
upstreams:
  origin:
    targets: [{ url: ${originUrl} }]
    pool: { max_connections: 64 }
`,
);

// A session as a sign-in seals it: the ID token's claims, the ID token itself, a refresh token.
const now = Date.now();
const claims = {
  iss: `http://127.0.0.1:${deadPort}`,
  sub: 'a7f3c2e1-5b6d-4e8f-9a0b-1c2d3e4f5a6b',
  aud: 'bench',
  email: 'alice@example.com',
  groups: ['staff', 'ops'],
  iat: Math.floor(now / 1000),
  exp: Math.floor(now / 1000) + 3 * 3600,
};
const idToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${'s'.repeat(342)}`;
const sealed = await new CookieSeal(SECRET, 'session').seal({
  c: claims,
  i: idToken,
  r: 'r'.repeat(43),
  a: now,
  e: now + 3 * 3600_000,
});
const sessionCookie = `_candor_session=${sealed}`;

interface Row {
  readonly name: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}
const ROWS: readonly Row[] = [
  { name: 'route without auth', path: '/plain', headers: {} },
  // The same bytes on the wire: what the cookie costs to read apart from the session's check.
  {
    name: 'route without auth, the same cookie sent',
    path: '/plain',
    headers: { cookie: sessionCookie, accept: 'text/html' },
  },
  {
    name: `OIDC route, signed-in session (a ${sealed.length}-byte cookie decrypted and checked)`,
    path: '/app',
    headers: { cookie: sessionCookie, accept: 'text/html' },
  },
];

/** utime + stime of the gateway's primary and worker, in µs. */
function cpuUs(root: PinnedProcess): number {
  let ticks = 0;
  for (const pid of processTree(root.pid)) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
      ticks += Number(after[11]) + Number(after[12]);
    } catch {
      // Gone meanwhile.
    }
  }
  return ticks * TICK_US;
}

/** CONNECTIONS keep-alive clients asking `row` for `seconds`: the requests answered, and those not 200. */
async function load(row: Row, seconds: number): Promise<{ requests: number; not200: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const until = performance.now() + seconds * 1000;
  let requests = 0;
  let not200 = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port, path: row.path, headers: row.headers, agent },
        (res) => {
          if (res.statusCode !== 200) not200++;
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        await one();
        requests++;
      }
    }),
  );
  agent.destroy();
  return { requests, not200 };
}

// Warm-up: the JIT settled on both rows.
for (const row of ROWS) await load(row, 2);
const perRequest = ROWS.map(() => [] as number[]);
const rates = ROWS.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < ROWS.length; k++) {
    const i = (k + round) % ROWS.length;
    const row = ROWS[i];
    const before = cpuUs(gateway);
    const { requests, not200 } = await load(row, SECONDS);
    const used = cpuUs(gateway) - before;
    if (not200 > 0) throw new Error(`${row.name}: ${not200} of ${requests} answers were not 200`);
    perRequest[i].push(used / requests);
    rates[i].push(requests / SECONDS);
  }
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const base = median(perRequest[0]);
process.stdout.write(
  `Gateway CPU per request (primary + worker, /proc utime+stime), median of ${ROUNDS} × ${SECONDS} s, ${CONNECTIONS} keep-alive connections:\n\n`,
);
process.stdout.write(
  '| row | CPU µs / request | min–max | extra | req/s (median) |\n|---|--:|--:|--:|--:|\n',
);
for (const [i, row] of ROWS.entries()) {
  const m = median(perRequest[i]);
  const extra = i === 0 ? '—' : `${m - base >= 0 ? '+' : ''}${(m - base).toFixed(1)}`;
  process.stdout.write(
    `| ${row.name} | ${m.toFixed(1)} | ${Math.min(...perRequest[i]).toFixed(1)}–${Math.max(...perRequest[i]).toFixed(1)} | ${extra} | ${Math.round(median(rates[i])).toLocaleString('en')} |\n`,
  );
}

origin.close();
await gateway.stop();
rmSync(dir, { recursive: true, force: true });
