/**
 * The schema nodes of a route's access control: IP lists, CORS and authentication, kept
 * apart from schema.ts so that file stays a readable outline of the document. Checks that
 * need more than one field (credentials with a wildcard origin) are in access-checks.ts.
 */

import { Type } from '@sinclair/typebox';
import { FORMAT } from './formats.ts';
import { ClientCertificateAuth } from './schema-client-certificates.ts';
import { OidcStore } from './schema-fleet.ts';
import { count, durationField, filePath, flag, mapping, oneOf } from './schema-kit.ts';

const addressList = (what: string) =>
  Type.Optional(
    Type.Array(
      Type.String({ format: FORMAT.addressOrCidr, expected: 'an IP address or CIDR block like 10.0.0.0/8' }),
      { minItems: 1, expected: `a list of IP addresses or CIDR blocks ${what}` },
    ),
  );

/** An origin as browsers send it, lower-case: scheme://host[:port], "*." before the host for any subdomain, or "*". */
const ORIGIN =
  '^(\\*|[a-z][a-z0-9+.-]*://(\\*\\.)?[a-z0-9.-]+(:[0-9]{1,5})?|[a-z][a-z0-9+.-]*://\\[[0-9a-f:.]+\\](:[0-9]{1,5})?)$';
const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
const names = (what: string) =>
  Type.Optional(
    Type.Array(Type.String({ pattern: TOKEN, expected: 'a header name' }), {
      expected: `a list of header names ${what}`,
    }),
  );

const Cors = mapping(
  {
    origins: Type.Array(
      Type.String({
        pattern: ORIGIN,
        expected:
          'an origin in lower case like https://app.example.com, https://*.example.com for its subdomains, or "*"',
      }),
      { minItems: 1, expected: 'a list of origins that may call the route from a browser' },
    ),
    methods: Type.Optional(
      Type.Array(Type.String({ format: FORMAT.method, expected: 'a method like GET or POST' }), {
        minItems: 1,
        expected: 'a list of methods like [GET, POST]',
      }),
    ),
    headers: names('a browser may send'),
    expose_headers: names("a browser's script may read"),
    credentials: flag(),
    // 0s: Access-Control-Max-Age 0, a browser keeps no preflight (the Fetch standard), as a
    // value under a second already made it (whole seconds).
    max_age: Type.Optional(Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 10m or 1h' })),
  },
  'a mapping with origins, methods, headers, expose_headers, credentials and max_age',
);

/** What a quoted-string may hold without escapes (RFC 9110 §5.6.4): a realm sent as it is written. */
const REALM = '^[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]{1,200}$';

/** Signatures by a key pair only: "none" and HMAC (a shared secret, forgeable by whoever holds a public key) are not offered. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** A list of JWT_ALGORITHMS, for a JWT route's tokens and an OpenID Connect route's ID tokens alike. */
const signatureAlgorithms = (expected: string) =>
  Type.Optional(
    Type.Array(
      Type.Unsafe<(typeof JWT_ALGORITHMS)[number]>(
        Type.Union(
          JWT_ALGORITHMS.map((name) => Type.Literal(name)),
          { expected: `one of ${JWT_ALGORITHMS.join(', ')} (never none, never HMAC)` },
        ),
      ),
      { minItems: 1, expected },
    ),
  );

/** Claim → the request field the upstream reads it in (a JWT's, an OpenID Connect session's). */
const claimFields = () =>
  Type.Optional(
    Type.Record(Type.String({ minLength: 1 }), Type.String({ pattern: TOKEN, expected: 'a header name' }), {
      expected: 'a mapping of claim names to the request fields the upstream reads them in',
    }),
  );

const Jwt = mapping(
  {
    jwks_url: Type.Optional(
      Type.String({
        pattern: '^https?://[^\\s/?#]+(/[^\\s#]*)?$',
        expected: 'the http(s) URL of a JSON Web Key Set, like https://idp.example.com/.well-known/jwks.json',
      }),
    ),
    keys_file: Type.Optional(filePath('a JSON Web Key Set file')),
    issuer: Type.Optional(Type.String({ minLength: 1, expected: 'the issuer (iss) tokens must name' })),
    audiences: Type.Optional(
      Type.Array(Type.String({ minLength: 1, expected: 'an audience' }), {
        minItems: 1,
        expected: 'a list of audiences (aud), one of which a token must name',
      }),
    ),
    algorithms: signatureAlgorithms('a list of signature algorithms like [RS256, ES256]'),
    // 0s: no tolerance at all (the issuer's and the gateway's clocks are one).
    clock_skew: Type.Optional(
      Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 30s or 1m' }),
    ),
    // false: a token without `exp` is good until its key leaves the set (an issuer that never sets one).
    require_exp: flag(),
    // RFC 6838 §4.2's restricted names: `at+jwt`, or with its type written, `application/at+jwt`.
    types: Type.Optional(
      Type.Array(
        Type.String({
          pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})?$',
          expected: 'a media type like at+jwt or JWT',
        }),
        { minItems: 1, expected: 'a list of the header typ values accepted, like [at+jwt]' },
      ),
    ),
    jwks_min_refresh: durationField(),
    // RFC 8705 §3's certificate-bound tokens: check a token's cnf x5t#S256 when it has one, require one, or not look.
    bound_tokens: oneOf(['check', 'require', 'ignore']),
    cookie: Type.Optional(Type.String({ pattern: TOKEN, expected: 'a cookie name' })),
    claims_to_headers: claimFields(),
    identity_claim: Type.Optional(
      Type.String({ minLength: 1, expected: 'the name of the claim that names the user, like sub or email' }),
    ),
  },
  'a mapping with jwks_url or keys_file, issuer, audiences, algorithms, clock_skew, require_exp, types, jwks_min_refresh, bound_tokens, cookie, claims_to_headers and identity_claim',
);

const Forward = mapping(
  {
    url: Type.Optional(
      Type.String({
        pattern: '^https?://[^\\s/?#]+(/[^\\s#]*)?$',
        expected: 'the http(s) URL of the auth service, like http://127.0.0.1:9000/check',
      }),
    ),
    upstream: Type.Optional(
      Type.String({
        minLength: 1,
        expected: 'the name of the upstream the auth service is, under upstreams',
      }),
    ),
    path: Type.Optional(
      Type.String({
        pattern: '^/[\\x21-\\x7e]*$',
        expected: 'the path (and query) asked of the upstream, like /check',
      }),
    ),
    timeout: durationField(),
    send_headers: names('of the request sent to the auth service'),
    copy_headers: names("of the auth service's answer sent upstream"),
    identity_from: Type.Optional(
      Type.String({
        pattern: TOKEN,
        expected: "the field of the auth service's 2xx answer that names the user",
      }),
    ),
    cache: Type.Optional(
      mapping(
        {
          key: Type.String({
            pattern: "^(header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
            expected:
              "header:NAME or cookie:NAME (e.g. cookie:session), what tells one client's decision from another's",
          }),
          ttl: durationField(),
          max_entries: count(1, 1_000_000, 'decisions kept'),
        },
        'a mapping with key, ttl and max_entries',
      ),
    ),
  },
  'a mapping with url or upstream (and path), timeout, send_headers, copy_headers, identity_from and cache',
);

/** The name of an environment variable, as secrets are named in the file (admin.token_env). */
const envName = (what: string) =>
  Type.String({
    pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
    expected: `the name of an environment variable holding ${what}, like CANDOR_OIDC_SECRET`,
  });
/** A path the route answers itself (the sign-in's callback, the logout). */
const ownPath = (what: string) =>
  Type.Optional(
    Type.String({ pattern: '^/[\\x21-\\x7e]*$', expected: `the path of ${what}, like /oauth2/callback` }),
  );

const Oidc = mapping(
  {
    issuer: Type.String({
      pattern: '^https?://[^\\s?#]+$',
      expected: 'the issuer URL of the OpenID provider, like https://idp.example.com',
    }),
    client_id: Type.String({ minLength: 1, expected: 'the client id the provider knows the gateway by' }),
    client_secret_env: Type.Optional(envName('the client secret')),
    scopes: Type.Optional(
      Type.Array(
        Type.String({ pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$', expected: 'a scope like email' }),
        {
          minItems: 1,
          expected: 'a list of scopes asked for, like [openid, email] (openid is always asked)',
        },
      ),
    ),
    redirect_path: ownPath("the provider's redirect back to the gateway"),
    logout_path: ownPath('the logout'),
    post_logout_redirect: Type.Optional(
      Type.String({
        pattern: '^(https?://[^\\s]+|/[\\x21-\\x7e]*)$',
        expected: 'where a user is sent after the logout: a URL, or a path on this host',
      }),
    ),
    cookie: mapping(
      {
        // Each part of the session cookie is up to 3,800 bytes of value beside its name, and a
        // browser keeps 4,096 of name, value and attributes (session-cookie.ts): a long name
        // would make every part one it drops without a word.
        name: Type.Optional(
          Type.String({ pattern: TOKEN, maxLength: 64, expected: 'a cookie name of at most 64 characters' }),
        ),
        secret_env: envName('the secret the session cookie is encrypted with (32 characters or more)'),
      },
      'a mapping with name and secret_env',
    ),
    allowed: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1 }),
        Type.Array(Type.String({ expected: 'a value of the claim' }), {
          minItems: 1,
          expected: 'a list of the values allowed',
        }),
        { expected: 'a mapping of claim names to the values a user must have one of, like groups: [admins]' },
      ),
    ),
    identity_claim: Type.Optional(
      Type.String({ minLength: 1, expected: 'the name of the claim that names the user, like sub or email' }),
    ),
    claims_to_headers: claimFields(),
    algorithms: signatureAlgorithms('a list of ID token signature algorithms like [RS256, ES256]'),
    clock_skew: Type.Optional(
      Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 30s or 1m' }),
    ),
    timeout: durationField(),
    jwks_min_refresh: durationField(),
    store: OidcStore,
  },
  'a mapping with issuer, client_id, client_secret_env, scopes, redirect_path, logout_path, post_logout_redirect, cookie, allowed, identity_claim, claims_to_headers, algorithms, clock_skew, timeout, jwks_min_refresh and store',
);

const Auth = mapping(
  {
    basic: Type.Optional(
      mapping(
        {
          users_file: filePath('an htpasswd file (bcrypt or SHA-crypt hashes)'),
          realm: Type.Optional(
            Type.String({
              pattern: REALM,
              expected: 'a realm of up to 200 printable ASCII characters, without " or \\',
            }),
          ),
        },
        'a mapping with users_file and realm',
      ),
    ),
    jwt: Type.Optional(Jwt),
    forward: Type.Optional(Forward),
    client_certificate: ClientCertificateAuth,
    oidc: Type.Optional(Oidc),
    forward_authorization: flag(),
    identity_header: Type.Optional(
      Type.String({
        pattern: TOKEN,
        expected: 'the request field the upstream reads the user in, like X-Candor-User',
      }),
    ),
  },
  'a mapping with basic, jwt, forward or oidc, client_certificate, forward_authorization and identity_header',
);

export const ACCESS_FIELDS = {
  allow: addressList('that may use the route (any other is refused)'),
  deny: addressList('refused on the route'),
  cors: Type.Optional(Cors),
  auth: Type.Optional(Auth),
};
