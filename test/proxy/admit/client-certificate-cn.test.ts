/**
 * A route's `subjects` and `identity: cn` read a certificate's common name as the certificate
 * holds it: Node writes a subject with RFC 2253's escapes (`CN=Smith\, John`) and a multi-valued
 * RDN's parts on one line (`CN=admin + OU=ops`), and a rule naming the CN, "compared exactly"
 * (docs/configuration.md), must meet the name itself, never its escaped spelling.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ClientCertificateAuth } from '../../../src/proxy/admit/client-certificate-auth.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-cn-');
after(() => rmSync(dir, { recursive: true, force: true }));

let made = 0;

/** A verified client's certificate whose subject is `subject` (openssl's -subj syntax, multi-valued RDNs allowed). */
function verified(subject: string): { certificate: X509Certificate; refused: undefined; chain: [] } {
  const cert = join(dir, `${made++}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout'].concat([
      join(dir, 'key.pem'),
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      subject,
      '-multivalue-rdn',
    ]),
    { stdio: 'ignore' },
  );
  return { certificate: new X509Certificate(readFileSync(cert)), refused: undefined, chain: [] };
}

const byCn = (subjects: string[]) => new ClientCertificateAuth({ subjects, sans: [], identity: 'cn' });

test('a CN holding a comma, a plus, quotes or a backslash is allowed by its name as written, and names the user so', () => {
  for (const cn of ['Smith, John', 'a+b', 'say "hi"', 'back\\slash', 'semi;colon', '<angle>']) {
    const escaped = cn.replace(/[,+"\\;<>]/g, '\\$&');
    const certificate = verified(`/O=Org/CN=${escaped.replace(/[/=]/g, '\\$&')}`);
    assert.deepEqual(byCn([cn]).verify(certificate), { identity: cn }, cn);
  }
});

test("a multi-valued RDN's CN is the CN, its other parts not a part of it; an escaped ' + ' inside one CN makes no second", () => {
  assert.deepEqual(byCn(['ops-1']).verify(verified('/O=Org/CN=ops-1+OU=team')), { identity: 'ops-1' });
  assert.deepEqual(byCn(['ops-2']).verify(verified('/O=Org/OU=team+CN=ops-2')), { identity: 'ops-2' });
  const one = verified('/O=Org/CN=x \\+ CN\\=admin');
  assert.equal('refused' in byCn(['admin']).verify(one), true, 'one CN, "x + CN=admin", is not admin');
  assert.deepEqual(byCn(['x + CN=admin']).verify(one), { identity: 'x + CN=admin' });
});
