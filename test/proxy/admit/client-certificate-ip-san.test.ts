/**
 * A route's `sans: [ip:…]` and `identity: san:ip` read an IP SAN as the address it is: Node writes
 * a certificate's IPv6 SAN in full and upper case (`IP Address:2001:DB8:0:0:0:0:0:1`), and a rule
 * written as addresses are (`ip:2001:db8::1`, RFC 5952) must still allow it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ClientCertificateAuth } from '../../../src/proxy/admit/client-certificate-auth.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const dir = tempDir('candor-ip-san-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** A certificate whose SANs are `sans` (openssl's subjectAltName syntax), as a verified client's. */
function verified(sans: string): { certificate: X509Certificate; refused: undefined; chain: [] } {
  const cert = join(dir, `${sans.replace(/\W/g, '_')}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout']
      .concat([join(dir, 'key.pem'), '-out', cert, '-days', '1', '-subj', '/CN=device'])
      .concat(['-addext', `subjectAltName=${sans}`]),
    { stdio: 'ignore' },
  );
  return { certificate: new X509Certificate(readFileSync(cert)), refused: undefined, chain: [] };
}

test('an IPv6 SAN is allowed by the rule that names its address, and names the user in its RFC 5952 form', () => {
  const auth = new ClientCertificateAuth({
    subjects: [],
    sans: [{ type: 'ip', value: '2001:db8::1' }],
    identity: 'ip',
  });
  assert.deepEqual(auth.verify(verified('IP:2001:db8:0::1')), { identity: '2001:db8::1' });
  assert.equal('refused' in auth.verify(verified('IP:2001:db8::2')), true);
});

test('a rule written in full or upper case allows the same address; an IPv4 SAN as before', () => {
  const auth = new ClientCertificateAuth({
    subjects: [],
    sans: [
      { type: 'ip', value: '2001:DB8:0:0:0:0:0:7' },
      { type: 'ip', value: '10.0.0.7' },
    ],
    identity: 'ip',
  });
  assert.deepEqual(auth.verify(verified('IP:2001:db8::7')), { identity: '2001:db8::7' });
  assert.deepEqual(auth.verify(verified('IP:10.0.0.7')), { identity: '10.0.0.7' });
});
