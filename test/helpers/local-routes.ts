/**
 * Run as a child under `unshare -rn` (a network namespace of its own, where it may change the
 * routes): gives three documentation addresses (RFC 5737) a route that lets no packet leave
 * (`prohibit`, `blackhole`, `unreachable`), starts a gateway with one upstream on each, asks each
 * once over HTTP/1.1, and prints what came back and what the log said, as one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { request } from './http-client.ts';
import { startTestGateway } from './test-gateway.ts';

const LOCAL_ROUTES = { prohibit: '192.0.2.1', blackhole: '192.0.2.2', unreachable: '192.0.2.3' } as const;

execFileSync('ip', ['link', 'set', 'lo', 'up']);
for (const [type, address] of Object.entries(LOCAL_ROUTES))
  execFileSync('ip', ['route', 'add', type, address]);

const gw = await startTestGateway(`name: edge-1
routes:
${Object.keys(LOCAL_ROUTES)
  .map((type) => `  - { match: { path: /${type} }, upstream: ${type} }`)
  .join('\n')}
upstreams:
${Object.entries(LOCAL_ROUTES)
  .map(
    ([type, address]) =>
      `  ${type}: { targets: [{ url: "http://${address}:8080" }], retries: { attempts: 1 } }`,
  )
  .join('\n')}
`);
const out: Record<string, unknown> = {};
try {
  for (const type of Object.keys(LOCAL_ROUTES)) {
    const res = await request(gw.url, { path: `/${type}`, headers: { 'x-request-id': type } });
    const line = await gw.logFor(type);
    out[type] = {
      status: res.status,
      proxyStatus: res.headers['proxy-status'],
      error: line.error,
      shape: line.shape,
      stage: line.stage,
      details: line.details,
    };
  }
} finally {
  await gw.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
