/**
 * `candor diagnose --config FILE NAME` on an upstream found by DNS: the name is asked of the
 * configured resolver (a real DNS server on loopback), and every address of the answer is
 * probed; an empty answer is said plainly, with the 503 the gateway would give.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';
import { closeAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
const dir = tempDir('candor-diagnose-dns-');
let echo: Fault;
let dns: DnsServer;
let config: string;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'diagnose', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  echo = await startEcho();
  dns = await startDnsServer();
  const port = new URL(echo.url).port;
  // 127.0.0.1 answers; nothing listens on 127.0.0.2 at that port.
  dns.set('app.test', [
    { type: 'A', address: '127.0.0.1', ttl: 30 },
    { type: 'A', address: '127.0.0.2', ttl: 30 },
  ]);
  dns.set('none.test', []);
  dns.set('meta.test', [
    { type: 'A', address: '169.254.169.254', ttl: 30 },
    { type: 'A', address: '0.0.0.0', ttl: 30 },
  ]);
  dns.set('mixed.test', [
    { type: 'A', address: '169.254.169.254', ttl: 30 },
    { type: 'A', address: '127.0.0.1', ttl: 30 },
  ]);
  dns.set('_http._tcp.tiers.test', [
    { type: 'SRV', target: '127.0.0.2', port: Number(port), priority: 20, weight: 3, ttl: 30 },
    { type: 'SRV', target: '127.0.0.1', port: Number(port), priority: 10, weight: 1, ttl: 30 },
  ]);
  config = join(dir, 'candor.yaml');
  writeFileSync(
    config,
    `listen: [{ address: 127.0.0.1:0 }]
routes: [{ upstream: app }, { upstream: none, match: { path: /none } }, { upstream: meta, match: { path: /meta } }, { upstream: mixed, match: { path: /mixed } }, { upstream: tiers, match: { path: /tiers } }]
upstreams:
  tiers:
    discovery: { dns: _http._tcp.tiers.test, type: SRV, resolvers: [${dns.address}] }
  meta:
    discovery: { dns: meta.test, port: ${port}, resolvers: [${dns.address}] }
  mixed:
    discovery: { dns: mixed.test, port: ${port}, resolvers: [${dns.address}] }
  app:
    discovery: { dns: app.test, port: ${port}, resolvers: [${dns.address}] }
  none:
    discovery: { dns: none.test, port: ${port}, resolvers: [${dns.address}] }
`,
  );
});

after(() => closeAll(echo, dns));

test('each address of the answer is probed: one answers, one refuses (exit 2)', async () => {
  const port = new URL(echo.url).port;
  const { code, stdout, stderr } = await run(['app', '--config', config, '--json']);
  assert.equal(code, 2);
  assert.equal(
    stderr,
    `DNS A app.test at ${dns.address}: http://127.0.0.1:${port}, http://127.0.0.2:${port}, TTL 30s\n`,
  );
  const report = JSON.parse(stdout) as { targets: { verdict: { outcome: string; type?: string } }[] };
  assert.deepEqual(
    report.targets.map((t) => t.verdict.outcome),
    ['ok', 'failure'],
  );
  assert.ok(dns.questions.includes('app.test A'));
});

test('an empty answer: nothing to probe, said with the 502 the gateway would give (exit 2)', async () => {
  const { code, stdout, stderr } = await run(['none', '--config', config]);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.equal(
    stderr,
    `candor: upstream "none" has no target to probe: DNS A none.test at ${dns.address}: no record (the gateway would answer 502 dns_error rcode NOERROR until DNS answers)\n`,
  );
});

test('an answer whose every record the gateway refuses is said so, each record with why, not "no record" (exit 2)', async () => {
  const { code, stdout, stderr } = await run(['meta', '--config', config]);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.equal(
    stderr,
    `candor: upstream "meta" has no target to probe: DNS A meta.test at ${dns.address}: every record refused as a target: 0.0.0.0 (an unspecified address), 169.254.169.254 (a link-local address (the cloud metadata service lives there)) (the gateway would answer 503 destination_unavailable until DNS answers)\n`,
  );
});

test('the records left out of an answer are named beside the targets probed', async () => {
  const port = new URL(echo.url).port;
  const { code, stderr } = await run(['mixed', '--config', config]);
  assert.equal(code, 0);
  assert.equal(
    stderr,
    `DNS A mixed.test at ${dns.address}: http://127.0.0.1:${port}, TTL 30s; left out: 169.254.169.254 (a link-local address (the cloud metadata service lives there))\n`,
  );
});

test('an SRV answer’s targets are named with their weight and priority where not the default', async () => {
  const port = new URL(echo.url).port;
  const { code, stdout, stderr } = await run(['tiers', '--config', config, '--json']);
  assert.equal(code, 2, 'the backup on 127.0.0.2 refuses: probed as every target is');
  assert.equal(
    stderr,
    `DNS SRV _http._tcp.tiers.test at ${dns.address}: http://127.0.0.1:${port} (priority 10), http://127.0.0.2:${port} (weight 3, priority 20)\n`,
  );
  const report = JSON.parse(stdout) as { targets: { verdict: { outcome: string } }[] };
  assert.deepEqual(
    report.targets.map((t) => t.verdict.outcome),
    ['ok', 'failure'],
  );
});
