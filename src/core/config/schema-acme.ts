/**
 * The schema of automatic HTTPS (kept apart from schema.ts, which holds the rest): the
 * gateway's `acme` (where certificates are ordered and kept) and a TLS listener's
 * `tls.acme.names` (which names it orders for). Same conventions: every node says what it
 * expects, unknown keys are errors.
 */

import { Type } from '@sinclair/typebox';
import { FORMAT } from './formats.ts';
import { durationField, filePath, mapping, span } from './schema-kit.ts';

/**
 * A DNS name an ACME CA validates: letters, digits and hyphens in labels of at most 63, at
 * least two labels, and a last label that is not all digits: that is an IPv4 address, which
 * ACME orders as an identifier of another type (RFC 8738), not as a DNS name. A wildcard
 * (`*.example.com`, one leftmost label) only DNS-01 can prove: acme-checks.ts asks for acme.dns01.
 */
const DNS_NAME =
  '(?=.{1,253}$)(?!.*\\.[0-9]+$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';
export const ACME_NAME = `^(?:\\*\\.)?${DNS_NAME}`;

export const ACME_CHALLENGES = ['http-01', 'tls-alpn-01', 'dns-01'] as const;
export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;

const dnsServer = (what: string) =>
  Type.String({ format: FORMAT.listenAddress, expected: `host:port like 192.0.2.53:53: ${what}` });

/** DNS-01 by dynamic update (RFC 2136) signed with TSIG (RFC 8945): where and with which key. */
const Dns01 = Type.Optional(
  mapping(
    {
      server: dnsServer("the zone's primary, which takes the updates"),
      zone: Type.String({ pattern: `^${DNS_NAME}`, expected: 'the zone the names are in, like example.com' }),
      tsig: mapping(
        {
          name: Type.String({
            pattern: '^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$',
            expected: "the TSIG key's name, as the DNS server knows it",
          }),
          algorithm: Type.Optional(
            Type.Union(
              TSIG_ALGORITHMS.map((a) => Type.Literal(a)),
              { expected: `one of ${TSIG_ALGORITHMS.join(', ')}` },
            ),
          ),
          secret_env: Type.String({
            pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
            expected:
              "the name of an environment variable holding the key's secret (base64), like CANDOR_TSIG_SECRET",
          }),
        },
        'a mapping with name, algorithm and secret_env',
      ),
      nameservers: Type.Optional(
        Type.Array(dnsServer('an authoritative server of the zone'), {
          minItems: 1,
          maxItems: 16,
          expected: "a list of the zone's authoritative servers, host:port each",
        }),
      ),
      propagation_timeout: durationField(),
    },
    'a mapping with server, zone and tsig',
  ),
);

export const ListenerAcme = Type.Optional(
  mapping(
    {
      names: Type.Array(
        Type.String({
          pattern: ACME_NAME,
          expected: 'a DNS name like www.example.com, or a wildcard like *.example.com (no IP address)',
        }),
        { minItems: 1, maxItems: 100, expected: 'a list of 1 to 100 DNS names' },
      ),
    },
    'a mapping with names',
  ),
);

export const Acme = Type.Optional(
  mapping(
    {
      directory: Type.Optional(
        Type.String({
          pattern: '^https://[^\\s]+$',
          expected: "an https:// URL of an ACME server's directory",
        }),
      ),
      email: Type.Optional(
        // Sent as the account's contact `mailto:<email>` (RFC 8555 §7.3): a `mailto:` written in
        // it, a `?` (a mailto header field), a list (`,` `;`) or a name's `<>`, `""`, `()` make a
        // contact the CA refuses `invalidContact` (pebble, Let's Encrypt), so every order failed
        // after a `candor check` that said ok.
        Type.String({
          pattern: '^[^\\s@:,;<>()\\[\\]\\\\"?]+@[^\\s@:,;<>()\\[\\]\\\\"?]+$',
          expected:
            'an email address for the CA to write to (the address alone, as ops@example.com: no mailto:, no name or <>, no ?query)',
        }),
      ),
      ca: Type.Optional(filePath("a PEM file of the root the ACME server's own HTTPS certificate chains to")),
      challenges: Type.Optional(
        Type.Array(
          Type.Union(
            ACME_CHALLENGES.map((c) => Type.Literal(c)),
            { expected: `one of ${ACME_CHALLENGES.join(', ')}` },
          ),
          {
            minItems: 1,
            uniqueItems: true,
            // `each once`: a challenge named twice was told `expected a list …, got a list`.
            expected: `a list of challenges from ${ACME_CHALLENGES.join(', ')}, each once`,
          },
        ),
      ),
      renew_before: span(),
      storage: Type.Optional(filePath('a folder where accounts and certificates are kept')),
      dns01: Dns01,
    },
    'a mapping of ACME settings',
  ),
);
