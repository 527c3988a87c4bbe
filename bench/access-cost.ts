/**
 * What access control costs a request, in µs of the gateway's CPU (issue 34's targets: a route
 * without auth, IP lists or CORS pays nothing; a JWT check with a cached key costs under 20 µs):
 *
 *   npm run bench:access                     # 3 rounds of 5 s per row
 *   node_modules/.bin/node bench/access-cost.ts --rounds=1 --seconds=2   # a smoke check
 *
 * Starts a node:http origin (100-byte answers), a JWKS endpoint (one ES256 key, Cache-Control
 * max-age one hour: fetched once, then the cached key; an RS256 and an ES256 key), and two `candor serve --workers 1`
 * gateways: "bare", with one plain route and no access rules anywhere, and "access", with the
 * same plain route beside a JWT route (jwks_url, issuer, audience: a new token each request, its
 * signature checked against the cached key, or one token again, remembered), a route with allow/deny
 * lists and CORS, and a forward-auth route whose decisions are cached (by the bearer token, the
 * service asked once). wrk (-t1, keep-alive) loads each row in turn, round after round, so drift
 * on a shared machine hits every row alike; each row's figure is the gateway's CPU time (utime
 * + stime of its primary and worker, from /proc) over the requests it answered, the median of
 * the rounds; "extra" is the row's median minus the bare gateway's plain route. Load on the
 * machine changes req/s, much less CPU per request: the figure to read.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { which } from './install.ts';
import { openDir, runDir } from './paths.ts';
import { freePorts } from './ports.ts';
import type { PinnedProcess } from './process.ts';
import { processTree } from './rss.ts';
import { startCandor } from './systems.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '16' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;

if (which('wrk') === undefined) {
  process.stderr.write(
    'bench/access-cost.ts needs wrk on the PATH (apt-get install wrk; npm run bench installs it)\n',
  );
  process.exit(1);
}

const dir = runDir('candor-bench-access-');

const origin = http.createServer((_req, res) => res.end('x'.repeat(99)));
await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

// An RS256 and an ES256 key, served with a long max-age: after the first request each is the cached one.
const rs = await generateKeyPair('RS256');
const es = await generateKeyPair('ES256');
const keys = [
  { ...(await exportJWK(rs.publicKey)), kid: 'rs', alg: 'RS256', use: 'sig' },
  { ...(await exportJWK(es.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
];
const jwks = http.createServer((_req, res) =>
  res
    .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' })
    .end(JSON.stringify({ keys })),
);
await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
// `jti` makes each token its own: RS256 signatures are deterministic, so tokens signed in the
// same second with the same claims would be one token, remembered after its first check.
let signed = 0;
const sign = (alg: string, kid: string, key: Parameters<SignJWT['sign']>[0]) =>
  new SignJWT({ sub: 'bench-user', jti: String(++signed) })
    .setProtectedHeader({ alg, kid })
    .setIssuer('https://idp.bench/')
    .setAudience('bench')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(key);
const token = await sign('RS256', 'rs', rs.privateKey);
/**
 * More distinct tokens than a route remembers (1024), sent in turn by a wrk script: every request
 * has its signature checked against the cached key.
 */
const FRESH_TOKENS = 2048;
async function rotatingScript(name: string, alg: string, kid: string, key: Parameters<SignJWT['sign']>[0]) {
  const tokens: string[] = [];
  for (let i = 0; i < FRESH_TOKENS; i++) tokens.push(await sign(alg, kid, key));
  const path = join(dir, `${name}.lua`);
  writeFileSync(
    path,
    `local tokens = { ${tokens.map((t) => `"${t}"`).join(', ')} }
local n = 0
request = function()
  n = n % #tokens + 1
  return wrk.format("GET", "/jwt", { ["Authorization"] = "Bearer " .. tokens[n] })
end
`,
  );
  return path;
}
const rsScript = await rotatingScript('rs-tokens', 'RS256', 'rs', rs.privateKey);
const esScript = await rotatingScript('es-tokens', 'ES256', 'es', es.privateKey);

// An auth service that lets the bench's token in; with the route's cache it is asked once.
let authCalls = 0;
const authService = http.createServer((req, res) => {
  authCalls++;
  res.writeHead(req.headers.authorization === `Bearer ${token}` ? 204 : 401).end();
});
await new Promise<void>((resolve) => authService.listen(0, '127.0.0.1', resolve));
const authUrl = `http://127.0.0.1:${(authService.address() as AddressInfo).port}/check`;

const ACCESS_ROUTES = `  - name: jwt
    match: { path: /jwt }
    upstream: origin
    auth:
      jwt: { jwks_url: "${jwksUrl}", issuer: "https://idp.bench/", audiences: [bench], algorithms: [RS256, ES256] }
  - name: lists
    match: { path: /lists }
    upstream: origin
    allow: [127.0.0.0/8, "::1"]
    deny: [10.0.0.0/8]
    cors: { origins: ["https://app.bench"], credentials: true }
  - name: forward
    match: { path: /forward }
    upstream: origin
    auth:
      forward: { url: "${authUrl}", cache: { key: "header:Authorization", ttl: 1h } }
`;

/** A gateway of its own (`candor serve --workers 1`, not pinned), in dir/NAME. */
function gateway(name: string, routes: string, port: number): Promise<PinnedProcess> {
  // No access log (warn): a line costs the same in every row and would only blur them.
  return startCandor(
    { dir: openDir(join(dir, name)), port },
    `name: ${name}
listen: [{ address: 127.0.0.1:${port} }]
log: { level: warn }
routes:
${routes}  - name: plain
    match: { path: / }
    upstream: origin
upstreams:
  origin:
    targets: [{ url: ${originUrl} }]
    pool: { max_connections: 64 }
`,
  );
}

const [barePort, accessPort] = await freePorts(2);
const bare = await gateway('bare', '', barePort);
const access = await gateway('access', ACCESS_ROUTES, accessPort);

interface Row {
  readonly name: string;
  readonly gateway: PinnedProcess;
  readonly port: number;
  readonly path: string;
  readonly headers: readonly string[];
  /** A wrk script that builds the requests (the headers above are then unused). */
  readonly script?: string;
}
const bearer = `Authorization: Bearer ${token}`;
const ROWS: readonly Row[] = [
  {
    name: 'plain route, no access rules in the gateway',
    gateway: bare,
    port: barePort,
    path: '/small',
    headers: [],
  },
  {
    name: 'plain route, access rules on other routes',
    gateway: access,
    port: accessPort,
    path: '/small',
    headers: [],
  },
  {
    name: 'JWT (RS256, 2048-bit), cached key, a new token each request',
    gateway: access,
    port: accessPort,
    path: '/jwt',
    headers: [],
    script: rsScript,
  },
  {
    name: 'JWT (ES256), cached key, a new token each request',
    gateway: access,
    port: accessPort,
    path: '/jwt',
    headers: [],
    script: esScript,
  },
  {
    name: 'JWT (RS256), cached key, a token seen before (remembered)',
    gateway: access,
    port: accessPort,
    path: '/jwt',
    headers: [bearer],
  },
  {
    name: 'allow/deny lists + CORS (an allowed Origin)',
    gateway: access,
    port: accessPort,
    path: '/lists',
    headers: ['Origin: https://app.bench'],
  },
  {
    name: 'forward auth, cached decision',
    gateway: access,
    port: accessPort,
    path: '/forward',
    headers: [bearer],
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

function wrk(row: Row, seconds: number): Promise<{ requests: number; non2xx: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '10s'];
  for (const header of row.headers) args.push('-H', header);
  if (row.script !== undefined) args.push('-s', row.script);
  args.push(`http://127.0.0.1:${row.port}${row.path}`);
  return new Promise((resolve, reject) =>
    execFile('wrk', args, { timeout: (seconds + 30) * 1000 }, (err, stdout) => {
      if (err) return reject(err);
      const requests = /(\d+) requests in/.exec(stdout);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
      if (requests === null) return reject(new Error(`wrk said: ${stdout}`));
      resolve({ requests: Number(requests[1]), non2xx: non2xx === null ? 0 : Number(non2xx[1]) });
    }),
  );
}

// Warm-up: the JWKS fetched, the forward decision cached, the JIT settled, on every row.
for (const row of ROWS) await wrk(row, 2);
const perRequest = ROWS.map(() => [] as number[]);
const rates = ROWS.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  // The order rotates from one round to the next.
  for (let k = 0; k < ROWS.length; k++) {
    const i = (k + round) % ROWS.length;
    const row = ROWS[i];
    const before = cpuUs(row.gateway);
    const { requests, non2xx } = await wrk(row, SECONDS);
    const used = cpuUs(row.gateway) - before;
    if (non2xx > 0) throw new Error(`${row.name}: ${non2xx} of ${requests} answers were not 2xx`);
    perRequest[i].push(used / requests);
    rates[i].push(requests / SECONDS);
  }
}

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const base = median(perRequest[0]);
process.stdout.write(
  `Gateway CPU per request (primary + worker, /proc utime+stime), median of ${ROUNDS} × ${SECONDS} s, wrk -t1 -c${CONNECTIONS}:\n\n`,
);
process.stdout.write(
  '| row | CPU µs / request | min–max | extra vs bare plain | req/s (median) |\n|---|--:|--:|--:|--:|\n',
);
for (const [i, row] of ROWS.entries()) {
  const m = median(perRequest[i]);
  const lo = Math.min(...perRequest[i]);
  const hi = Math.max(...perRequest[i]);
  const extra = i === 0 ? '—' : `${m - base >= 0 ? '+' : ''}${(m - base).toFixed(1)}`;
  process.stdout.write(
    `| ${row.name} | ${m.toFixed(1)} | ${lo.toFixed(1)}–${hi.toFixed(1)} | ${extra} | ${Math.round(median(rates[i])).toLocaleString('en')} |\n`,
  );
}
process.stdout.write(
  `\nThe auth service was asked ${authCalls} time(s) in all (the cache's decision stood for the rest).\n`,
);

origin.close();
jwks.close();
authService.close();
await bare.stop();
await access.stop();
rmSync(dir, { recursive: true, force: true });
