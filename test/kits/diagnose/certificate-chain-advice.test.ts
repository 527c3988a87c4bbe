/**
 * `candor diagnose` on a TLS upstream whose chain breaks a rule of a CA the gateway trusts: the
 * fix says which rule (a chain longer than its CA allows, a certificate not for servers or a signer
 * that is no CA), not "not signed by a CA this machine trusts", whose fix (give the gateway
 * that CA) is already done and changes nothing. Chains made by openssl, served by node:https.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { type ChainFault, makeChain } from '../../helpers/openssl-chain.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dirs: string[] = [];
const servers: https.Server[] = [];

after(async () => {
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** diagnose's verdict on a server sending a chain with `fault`, its root given as --ca. */
async function verdictOn(
  fault: ChainFault,
): Promise<{ type: string; fix: string; code: string | undefined }> {
  const dir = tempDir('candor-diagnose-chain-');
  dirs.push(dir);
  const { root, chain, key } = makeChain(dir, fault);
  const server = https.createServer({ cert: chain, key }, (_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const [report] = (await diagnose({ target: `https://localhost:${port}/`, ca: root })).targets;
  const tls = report.steps.find((step) => step.step === 'tls');
  const code = tls?.step === 'tls' ? tls.facts.verifyError : undefined;
  return { type: String(report.verdict.failure?.type), fix: report.verdict.fix, code };
}

test('a chain longer than its root CA allows (PATH_LENGTH_EXCEEDED): the fix says so, not that the CA is untrusted', async () => {
  const { type, fix, code } = await verdictOn({ rootPathLength: 0 });
  assert.equal(code, 'PATH_LENGTH_EXCEEDED');
  assert.equal(type, 'tls_certificate_error');
  assert.match(fix, /chain is longer than a CA in it allows \(PATH_LENGTH_EXCEEDED\)/);
  assert.match(fix, /pathlen/);
  assert.doesNotMatch(fix, /trusts/);
});

for (const [what, fault] of [
  ['a leaf for clients only (extendedKeyUsage clientAuth)', { leafUsage: 'clientAuth' }],
  ['a leaf signed by an intermediate that is no CA (CA:FALSE)', { intermediateIsCa: false }],
] as const) {
  test(`${what} (INVALID_PURPOSE): the fix says a certificate of the chain is not for its use, server or CA`, async () => {
    const { type, fix, code } = await verdictOn(fault);
    assert.equal(code, 'INVALID_PURPOSE');
    assert.equal(type, 'tls_certificate_error');
    assert.match(fix, /is not for the use it is put to \(INVALID_PURPOSE\)/);
    assert.match(fix, /extendedKeyUsage serverAuth/);
    assert.match(fix, /CA:TRUE/);
    assert.doesNotMatch(fix, /trusts/);
  });
}
