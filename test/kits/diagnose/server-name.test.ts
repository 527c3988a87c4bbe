/**
 * The TLS server name `candor diagnose` sends (issue 32, item 2 of its tester's findings):
 * with --host NAME a probe of an address sends NAME as SNI (without its port; none for an IP
 * literal, RFC 6066 §3) and checks the certificate against it, so an SNI-routed upstream gives
 * the certificate it gives a client of NAME. A probe that stands for an upstream of the config
 * sends what the gateway sends: its tls.servername, or the target's host name, whatever Host says.
 * The probe through the gateway (--compare) sends --host's name to the gateway too.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import type { DiagnoseOptions } from '../../../src/kits/diagnose/targets.ts';
import type { TargetReport, TlsFacts } from '../../../src/kits/diagnose/types.ts';
import { testCertificates } from '../../../src/kits/fault-kit/tls-certs.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

const certs = testCertificates();
const named = certificateFor(['api.test']);
const apiContext = createSecureContext({ cert: named.cert, key: named.key });

/** Serves api.test's certificate to a client that names it, other.example's to any other. */
const seen: (string | false | null)[] = [];
const server = https.createServer(
  {
    cert: certs.wrongHost.cert,
    key: certs.wrongHost.key,
    SNICallback: (name, done) => done(null, name === 'api.test' ? apiContext : undefined),
  },
  (req, res) => {
    seen.push((req.socket as TLSSocket).servername);
    res.end('ok');
  },
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
after(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

function tlsStep(report: TargetReport): { ok: boolean; facts: TlsFacts } {
  const step = report.steps.find((s) => s.step === 'tls');
  assert.ok(step?.step === 'tls', 'a TLS step');
  return { ok: step.ok, facts: step.facts };
}

async function probe(
  options: DiagnoseOptions,
): Promise<{ report: TargetReport; sni: (string | false | null)[] }> {
  const before = seen.length;
  const { targets } = await diagnose(options);
  return { report: targets[0], sni: seen.slice(before) };
}

describe('diagnose of an address with --host', () => {
  test('sends the host name as SNI and checks the certificate against it', async () => {
    for (const host of ['api.test', `api.test:${port}`, 'API.test.']) {
      const { report, sni } = await probe({ target: `https://127.0.0.1:${port}/`, host, ca: certs.caPath });
      const tls = tlsStep(report);
      assert.equal(report.verdict.outcome, 'ok', host);
      assert.equal(tls.ok, true, host);
      assert.equal(tls.facts.servername, 'api.test', host);
      assert.equal(tls.facts.verified, true, host);
      assert.equal(tls.facts.certificate?.subject, 'CN=api.test', host);
      assert.equal(tls.facts.certificate?.checkedName, 'api.test', host);
      assert.equal(tls.facts.certificate?.hostnameMatch, true, host);
      assert.deepEqual(sni, ['api.test'], host);
    }
  });

  test('an IP literal in --host is no server name: none is sent', async () => {
    for (const host of ['127.0.0.1', `127.0.0.1:${port}`, '[::1]:8443']) {
      const { report } = await probe({ target: `https://localhost:${port}/`, host, ca: certs.caPath });
      const tls = tlsStep(report);
      assert.equal(tls.facts.servername, undefined, host);
      assert.equal(tls.facts.certificate?.subject, 'CN=other.example', host);
      assert.equal(tls.facts.verified, false, host);
      assert.equal(report.verdict.outcome, 'failure', host);
    }
  });
});

describe('a certificate that fails on two counts', () => {
  test('neither its name nor its issuer trusted: the fix names both, so that following it is enough', async () => {
    // other.example's certificate, signed by a CA the probe is not given, checked against api2.test.
    const { report } = await probe({ target: `https://127.0.0.1:${port}/`, host: 'api2.test' });
    const tls = tlsStep(report);
    assert.equal(tls.facts.certificate?.hostnameMatch, false);
    assert.equal(report.verdict.failure?.type, 'tls_certificate_error');
    const fix = report.verdict.fix;
    assert.match(fix, /^the upstream's certificate is for DNS:other\.example, not for "api2\.test"/);
    assert.match(fix, /not signed by a CA this machine trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    assert.match(fix, /tls\.ca in the config; --ca here/);
  });

  test('a trusted certificate for another name: the fix is the name alone', async () => {
    const { report } = await probe({
      target: `https://127.0.0.1:${port}/`,
      host: 'api2.test',
      ca: certs.caPath,
    });
    assert.equal(report.verdict.failure?.type, 'tls_certificate_error');
    assert.match(report.verdict.fix, /not for "api2\.test"/);
    assert.doesNotMatch(report.verdict.fix, /trusts/);
  });
});

describe('diagnose --compare through a gateway over TLS, with --host', () => {
  test('sends the host name to the gateway as SNI too, as a client of that host would', async () => {
    const before = seen.length;
    // The SNI-routed server stands for the gateway here: it picks its certificate by the name.
    const { via } = await diagnose({
      target: `https://127.0.0.1:${port}/`,
      host: 'api.test',
      ca: certs.caPath,
      via: `https://127.0.0.1:${port}`,
    });
    assert.ok(via?.viaGateway);
    const tls = tlsStep(via);
    assert.equal(tls.facts.servername, 'api.test');
    assert.equal(tls.facts.verified, true);
    assert.equal(via.verdict.outcome, 'ok');
    assert.deepEqual(seen.slice(before), ['api.test', 'api.test']);
  });
});

describe('diagnose of an upstream of the config', () => {
  const config = (tls: string) =>
    parseConfig(
      `name: edge-7
listen: [{ address: "127.0.0.1:0" }]
routes: [{ upstream: app }]
upstreams:
  app:
    targets: [{ url: "https://127.0.0.1:${port}" }]
    tls: { ca: ${certs.caPath}${tls} }
`,
      '<diagnose-test>',
      {},
    );

  test('sends what the gateway sends: no name for an IP target without tls.servername, whatever --host says', async () => {
    const { report, sni } = await probe({ target: 'app', config: config(''), host: 'api.test' });
    const tls = tlsStep(report);
    assert.equal(tls.facts.servername, undefined);
    assert.equal(tls.facts.certificate?.subject, 'CN=other.example');
    assert.equal(tls.facts.verified, false);
    assert.equal(report.verdict.failure?.type, 'tls_certificate_error');
    assert.deepEqual(sni, []);
  });

  test("sends the upstream's tls.servername", async () => {
    const { report, sni } = await probe({ target: 'app', config: config(', servername: api.test') });
    assert.equal(report.verdict.outcome, 'ok');
    assert.equal(tlsStep(report).facts.servername, 'api.test');
    assert.deepEqual(sni, ['api.test']);
  });

  test("sends the upstream's tls.servername without a trailing dot, as the gateway does (RFC 6066 §3)", async () => {
    const { report, sni } = await probe({ target: 'app', config: config(', servername: api.test.') });
    assert.equal(report.verdict.outcome, 'ok');
    assert.equal(tlsStep(report).facts.servername, 'api.test');
    assert.deepEqual(sni, ['api.test']);
  });
});
