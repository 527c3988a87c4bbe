import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { certificateId } from '../../../src/core/tls/certificate-id.ts';
import { certificateFor } from '../../helpers/named-certs.ts';

test("RFC 9773 §4.1's example: key identifier 69:88:…:D4 and serial 00:87:65:43:21", () => {
  const aki = Buffer.from('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', 'hex').toString('base64url');
  const serial = Buffer.from('0087654321', 'hex').toString('base64url');
  assert.equal(`${aki}.${serial}`, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
});

test('the identifier of a real certificate is its issuer key id and its serial, as openssl reads them', () => {
  const cert = certificateFor(['ari.test']);
  const der = new X509Certificate(cert.cert).raw;
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: cert.cert }).toString();
  const aki = /Authority Key Identifier: *\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1].replaceAll(':', '');
  let serial = /Serial Number:\s*\n?\s*([0-9a-f:]+)/.exec(text)?.[1].replaceAll(':', '') ?? '';
  if (Number.parseInt(serial.slice(0, 2), 16) & 0x80) serial = `00${serial}`;
  assert.equal(
    certificateId(der),
    `${Buffer.from(aki ?? '', 'hex').toString('base64url')}.${Buffer.from(serial, 'hex').toString('base64url')}`,
  );
});

test('no identifier for what is not a certificate with an issuer key id', () => {
  assert.equal(certificateId(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), undefined);
  assert.equal(certificateId(Buffer.from('not der')), undefined);
});
