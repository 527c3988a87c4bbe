/**
 * An upstream whose `health_check` path fails while `/` answers: the gateway's checks take the
 * target out of rotation (or, with every target failing, its panic sends requests anyway),
 * whatever `/` answers. `candor diagnose --config FILE NAME` sent its request alone and said
 * "fix: none needed", on a target the gateway holds out: it now also runs the gateway's own
 * health probe (src/upstream/health/probe.ts) and says what it found.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { createTextPrinter } from '../../../src/kits/diagnose/render-text.ts';
import { listenLoopback } from '../../../src/kits/fault-kit/fault.ts';

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** An app: every path answers 200, but `/healthz` answers `healthStatus`. */
async function startApp(healthStatus: number): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['user-agent']}`);
    res.statusCode = req.url === '/healthz' ? healthStatus : 200;
    res.end(res.statusCode === 200 ? 'ok' : 'database unreachable');
  });
  servers.push(server);
  const port = await listenLoopback(server);
  return { url: `http://127.0.0.1:${port}`, seen };
}

function configOf(targets: string[], check: string) {
  return parseConfig(
    `listen: [{ address: "127.0.0.1:0" }]
routes: [{ upstream: app }]
upstreams:
  app:
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
    health_check: ${check}
`,
    '<health-test>',
    {},
  );
}

test("a target whose health path fails while / answers: the health step fails, and the fix names the check, not 'none needed'", async () => {
  const sick = await startApp(503);
  const well = await startApp(200);
  const config = configOf([sick.url, well.url], '{ path: /healthz, fall: 2 }');
  let text = '';
  const printer = createTextPrinter(
    (chunk) => {
      text += chunk;
    },
    { color: false },
  );
  const report = await diagnose({ target: 'app', config }, printer.events);

  const [first, second] = report.targets;
  // The request itself was answered: the exit status stays that of a valid answer below 500.
  assert.equal(first.verdict.outcome, 'ok');
  assert.equal(report.exitCode, 0);
  const health = first.steps.find((step) => step.step === 'health');
  assert.ok(health, 'a health step for an upstream with health_check');
  assert.equal(health.ok, false);
  assert.deepEqual(
    { ...health.facts, ms: undefined },
    {
      method: 'GET',
      path: '/healthz',
      host: new URL(sick.url).host,
      expectStatus: '200-399',
      status: 503,
      failure: 'unexpected_status',
      details: 'health check answered 503, expected 200-399',
      ms: undefined,
    },
  );
  assert.doesNotMatch(first.verdict.fix, /none needed/);
  assert.match(first.verdict.fix, /health_check/);
  assert.match(first.verdict.fix, /GET \/healthz/);
  assert.match(first.verdict.fix, /out of rotation after 2 failed checks/);
  assert.match(first.verdict.summary, /fails the gateway's health check/);
  // The gateway's own probe, as its checks send it.
  assert.ok(sick.seen.includes('GET /healthz candor-health-check'), sick.seen.join('\n'));

  const wellHealth = second.steps.find((step) => step.step === 'health');
  assert.equal(wellHealth?.ok, true);
  assert.match(second.verdict.fix, /none needed/);

  assert.match(text, /✗ health {3}GET \/healthz: health check answered 503, expected 200-399/);
  assert.match(text, /✓ health {3}GET \/healthz: 200/);
});

test('an upstream without health_check gets no health step', async () => {
  const app = await startApp(503);
  const config = parseConfig(
    `listen: [{ address: "127.0.0.1:0" }]
routes: [{ upstream: app }]
upstreams: { app: { targets: [{ url: ${app.url} }] } }
`,
    '<health-test>',
    {},
  );
  const report = await diagnose({ target: 'app', config });
  assert.equal(
    report.targets[0].steps.some((step) => step.step === 'health'),
    false,
  );
  assert.match(report.targets[0].verdict.fix, /none needed/);
});

test('the lone target of an upstream fails its check: the gateway panics and sends to it all the same, and the verdict says so', async () => {
  // With every target failing its check, fewer than panic_threshold (50%) pass: the gateway
  // ignores the checks (docs/resilience.md, "Panic") and the request is answered. "Takes it
  // out of rotation" would be untrue of this upstream.
  const sick = await startApp(503);
  const config = configOf([sick.url], '{ path: /healthz, fall: 2 }');
  const report = await diagnose({ target: 'app', config });
  const [only] = report.targets;
  assert.equal(only.verdict.outcome, 'ok');
  assert.equal(report.exitCode, 0);
  assert.equal(only.steps.find((step) => step.step === 'health')?.ok, false);
  assert.doesNotMatch(only.verdict.summary, /takes it out of rotation/);
  assert.match(
    only.verdict.summary,
    /; but it fails the gateway's health check, as do 1 of the upstream's 1 targets: below panic_threshold \(50%\), the gateway ignores the checks and sends to it all the same$/,
  );
  assert.match(only.verdict.fix, /GET \/healthz/);
  assert.match(only.verdict.fix, /"panic":true/);
  assert.doesNotMatch(only.verdict.fix, /sends it no request/);
});

test('two targets, both failing their checks: the last one probed knows the upstream panics', async () => {
  const [a, b] = [await startApp(503), await startApp(503)];
  const config = configOf([a.url, b.url], '{ path: /healthz, fall: 2 }');
  const report = await diagnose({ target: 'app', config });
  const [first, second] = report.targets;
  // After the first, the second could still pass (1 of 2, 50%: no panic): the first keeps the general words.
  assert.match(first.verdict.summary, /which takes it out of rotation$/);
  assert.match(second.verdict.summary, /as do 2 of the upstream's 2 targets: below panic_threshold \(50%\)/);
});
