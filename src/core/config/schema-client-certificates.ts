/**
 * The schema nodes of client certificates (mutual TLS): what a TLS listener asks its clients
 * for (`listen[].tls.client_certificates`) and what a route requires of the certificate
 * (`routes[].auth.client_certificate`). Checks across fields and files: client-certificate-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { filePath, mapping, oneOf } from './schema-kit.ts';

/** The subject alternative name types a route may allow and take the identity from, as `TYPE:value`. */
export const SAN_TYPES = ['dns', 'email', 'uri', 'ip'] as const;

export const ClientCertificates = Type.Optional(
  mapping(
    {
      ca: filePath('a PEM file of the certificate authorities that issue client certificates'),
      mode: oneOf(['require', 'optional']),
      crl: Type.Optional(filePath('a PEM file of certificate revocation lists (one per CA in the chain)')),
    },
    'a mapping with ca, mode (require or optional) and crl',
  ),
);

export const ClientCertificateAuth = Type.Optional(
  mapping(
    {
      subjects: Type.Optional(
        Type.Array(Type.String({ minLength: 1, expected: "a subject's common name (CN), like alice" }), {
          minItems: 1,
          expected: 'a list of the subject common names (CN) allowed',
        }),
      ),
      sans: Type.Optional(
        Type.Array(
          Type.String({
            pattern: `^(${SAN_TYPES.join('|')}):.+$`,
            expected:
              'a subject alternative name as TYPE:value, like dns:client.example.com, email:alice@example.com, uri:spiffe://example.org/app or ip:10.0.0.7',
          }),
          { minItems: 1, expected: 'a list of the subject alternative names allowed' },
        ),
      ),
      identity: Type.Optional(
        Type.String({
          pattern: `^(cn|san:(${SAN_TYPES.join('|')}))$`,
          expected: 'cn, or san:dns, san:email, san:uri or san:ip: what names the user',
        }),
      ),
    },
    'a mapping with subjects, sans and identity',
  ),
);
