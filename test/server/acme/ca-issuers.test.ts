/**
 * The rule for taking a fleet's certificate (ca-issuers.ts), on chains openssl makes: a CA with
 * a root and two intermediates (as Let's Encrypt rotates), another CA (a staging one), a leaf
 * whose chain claims an issuer that did not sign it, a leaf not yet begun, one longer-lived than
 * the CA gives. End to end, on pebble and Redis: fleet-certificate.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { learnIssuers, untrustedChain } from '../../../src/server/acme/ca-issuers.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-ca-issuers-');
after(() => rmSync(dir, { recursive: true, force: true }));

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const CA_EXT = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(file: string): string {
  return readFileSync(join(dir, file), 'utf8');
}

/** A self-signed root named `name` (name.pem, name.key). */
function root(name: string): string {
  openssl([
    'req',
    '-x509',
    ...EC,
    '-days',
    '3650',
    '-subj',
    `/CN=${name}`,
    ...CA_EXT,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
  ]);
  return read(`${name}.pem`);
}

/** A certificate `name` signed by `issuer`: a CA's, or a leaf for shop.test valid `days`. */
function signed(name: string, issuer: string, { ca = false, days = 90 } = {}): string {
  openssl(['req', '-new', ...EC, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  writeFileSync(
    join(dir, `${name}.ext`),
    ca
      ? 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n'
      : 'subjectAltName=DNS:shop.test\n',
  );
  openssl([
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${issuer}.pem`,
    '-CAkey',
    `${issuer}.key`,
    '-days',
    String(days),
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
  return read(`${name}.pem`);
}

test("a chain is taken when it verifies up to an issuer of this gateway's own orders, or a sibling under the same root", () => {
  root('root');
  const r10 = signed('r10', 'root', { ca: true });
  const r11 = signed('r11', 'root', { ca: true });
  const ownLeaf = signed('own', 'r10');
  const known = learnIssuers(undefined, ownLeaf + r10);
  assert.deepEqual(known.issuers, [r10]);
  assert.ok(known.longestMs > 89 * 86_400_000 && known.longestMs <= 90 * 86_400_000);
  const now = Date.now();
  assert.equal(untrustedChain(signed('fleet', 'r10') + r10, known, now), undefined);
  // Without the root in the chain or among the public ones, a sibling intermediate is another CA.
  assert.match(
    String(untrustedChain(signed('sibling', 'r11') + r11, known, now)),
    /does not verify up to the CA/,
  );
  // Once the gateway's own chain shows the root (as a CA's full chain does), its siblings are taken.
  const withRoot = learnIssuers(known, ownLeaf + r10 + read('root.pem'));
  assert.equal(untrustedChain(signed('sibling2', 'r11') + r11, withRoot, now), undefined);
});

test('a chain of another CA, self-signed, or whose leaf its issuer did not sign is refused', () => {
  root('ca');
  const inter = signed('inter', 'ca', { ca: true });
  const known = learnIssuers(undefined, signed('mine', 'inter') + inter);
  const now = Date.now();
  root('staging');
  assert.match(
    String(untrustedChain(signed('staged', 'staging'), known, now)),
    /does not verify up to the CA/,
  );
  root('selfsigned');
  assert.match(String(untrustedChain(read('selfsigned.pem'), known, now)), /does not verify up to the CA/);
  // A leaf of the staging CA presented with this CA's real intermediate after it.
  assert.match(
    String(untrustedChain(signed('forged', 'staging') + inter, known, now)),
    /not signed by the next one/,
  );
  // A leaf presented as an intermediate: not a CA's.
  const leafAsCa = signed('leafca', 'inter');
  assert.match(String(untrustedChain(signed('below', 'leafca') + leafAsCa, known, now)), /not a CA's/);
  // Never ordered from it: only a public root vouches, and no test CA is one.
  assert.match(
    String(untrustedChain(signed('fresh', 'inter') + inter, undefined, now)),
    /up to a root this gateway trusts/,
  );
});

test('a leaf not yet begun, or longer-lived than the CA gives, is refused', () => {
  root('dated');
  const inter = signed('dinter', 'dated', { ca: true });
  const known = learnIssuers(undefined, signed('dmine', 'dinter', { days: 30 }) + inter);
  // Seen from a clock an hour behind, a leaf made now begins in the future.
  const leaf = signed('dnow', 'dinter', { days: 30 }) + inter;
  assert.equal(untrustedChain(leaf, known, Date.now()), undefined);
  assert.match(String(untrustedChain(leaf, known, Date.now() - 3_600_000)), /begins in the future/);
  // Within the skew it is now.
  assert.equal(untrustedChain(leaf, known, Date.now() - 60_000), undefined);
  assert.match(
    String(untrustedChain(signed('dlong', 'dinter', { days: 36_500 }) + inter, known, Date.now())),
    /lasts 36500 days, longer than the 30 days/,
  );
});
