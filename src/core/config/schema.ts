/**
 * The shape of the YAML file (snake_case, human units), as a strict TypeBox schema.
 *
 * Why TypeBox and not a hand-rolled validator: the schema is data, so the list of every
 * field (for the docs test), the type of the raw document and the coercion of `${VAR}`
 * values all come from this one definition. TypeBox's own messages ("Expected string") are
 * not good enough for operators, so every node carries an `expected` phrase and
 * validate.ts writes the message from it and the value found; content checks (durations,
 * URLs, addresses) are formats whose checks write their own message (formats.ts).
 * Unknown keys are errors everywhere: a misspelt "timeout" must not silently mean "default".
 */

import { KindGuard, type Static, type TSchema, Type } from '@sinclair/typebox';
import { HEADER_SIZE_RANGE } from './defaults.ts';
import { FORMAT, HEADER_SIZE_EXPECTED, NAME_CHARS, NAME_EXPECTED } from './formats.ts';
import { Acme, ListenerAcme } from './schema-acme.ts';
import { Store } from './schema-fleet.ts';
import { count, durationField, filePath, flag, mapping, oneOf, ratio, sizeField } from './schema-kit.ts';
import { Plugins } from './schema-plugins.ts';
import { Route, RouteDefaults } from './schema-route.ts';
import { LISTENER_TLS_FIELDS } from './schema-routing.ts';
import { Upstream } from './schema-upstream.ts';

const Listener = mapping(
  {
    name: Type.Optional(Type.String({ format: FORMAT.name, expected: `a listener name of ${NAME_CHARS}` })),
    address: Type.String({
      format: FORMAT.listenAddress,
      expected: 'host:port like 127.0.0.1:8080 or [::1]:8080',
    }),
    tls: Type.Optional(
      mapping(
        {
          cert: Type.Optional(filePath('a PEM certificate file')),
          key: Type.Optional(filePath('a PEM private key file')),
          ...LISTENER_TLS_FIELDS,
          acme: ListenerAcme,
        },
        'a mapping with cert and key, or acme',
      ),
    ),
    max_in_flight: count(1, 10_000_000, 'requests in flight'),
    max_connections: count(1, 10_000_000, 'open client connections'),
    http2: flag(),
    // Where a request's client certificate comes from: this listener's TLS handshake, or the
    // RFC 9440 Client-Cert of a TLS terminator in trust_forwarded_from (forwarded-certificate.ts).
    client_certificates_from: oneOf(['handshake', 'forwarded']),
    proxy_protocol: Type.Optional(
      mapping(
        {
          from: Type.Array(
            Type.String({
              format: FORMAT.addressOrCidr,
              expected: 'an IP address or CIDR block like 10.0.0.0/8',
            }),
            { minItems: 1, expected: 'a list of at least one IP address or CIDR block' },
          ),
        },
        'a mapping with from',
      ),
    ),
  },
  'a mapping with an address',
);

export const ConfigSchema = mapping(
  {
    name: Type.Optional(Type.String({ format: FORMAT.name, expected: NAME_EXPECTED })),
    listen: Type.Array(Listener, { minItems: 1, expected: 'a list of at least one listener' }),
    routes: Type.Array(Route, { minItems: 1, expected: 'a list of at least one route' }),
    route_defaults: RouteDefaults,
    // Read before the schema runs (includes.ts): their routes, upstreams and plugins are in the document by then.
    include: Type.Optional(
      Type.Array(Type.String({ minLength: 1, expected: 'a file name or glob, relative to this file' }), {
        expected: 'a list of file names or globs, relative to this file',
      }),
    ),
    // Optional: a gateway whose routes all redirect has nothing to proxy to. A route that
    // proxies names an upstream that must be here (cross-checks.ts).
    upstreams: Type.Optional(
      Type.Record(Type.String(), Upstream, {
        minProperties: 1,
        expected: 'a mapping of at least one upstream, by name',
      }),
    ),
    plugins: Plugins,
    store: Store,
    acme: Acme,
    state_dir: Type.Optional(filePath('a folder where the gateway keeps what a restart must not lose')),
    errors: Type.Optional(
      mapping(
        {
          expose_upstream_address: flag(),
          detail: oneOf(['full', 'minimal']),
          pages: Type.Optional(
            mapping(
              {
                html: Type.Optional(filePath('an HTML template file')),
                json: Type.Optional(filePath('a JSON file holding one object')),
              },
              'a mapping with html and/or json',
            ),
          ),
        },
        'a mapping of error settings',
      ),
    ),
    paths: Type.Optional(
      mapping({ normalize: flag(), merge_slashes: flag() }, 'a mapping with normalize and/or merge_slashes'),
    ),
    trust_forwarded_from: Type.Optional(
      Type.Array(
        Type.String({
          format: FORMAT.addressOrCidr,
          expected: 'an IP address or CIDR block like 10.0.0.0/8',
        }),
        { expected: 'a list of IP addresses or CIDR blocks' },
      ),
    ),
    limits: Type.Optional(
      mapping(
        {
          header_size: Type.Optional(
            Type.Union(
              [
                Type.Integer({ minimum: HEADER_SIZE_RANGE.min, maximum: HEADER_SIZE_RANGE.max }),
                Type.String({ format: FORMAT.headerSize }),
              ],
              { expected: HEADER_SIZE_EXPECTED },
            ),
          ),
          uri_length: sizeField(),
          header_timeout: durationField(),
          body_idle_timeout: durationField(),
          body_read_timeout: durationField(),
          body_min_rate: sizeField(),
          send_timeout: durationField(),
          keep_alive_timeout: durationField(),
          http2: Type.Optional(
            mapping(
              {
                max_concurrent_streams: count(1, 1_000_000, 'streams open at once on one connection'),
                max_header_list_size: sizeField(),
                max_header_fields: count(1, 100_000, 'fields in one header list'),
                header_table_size: sizeField(),
                max_session_memory: sizeField(),
                connection_buffer: sizeField(),
                max_invalid_frames: count(1, 1_000_000, 'invalid frames on one connection'),
                max_rejected_streams: count(1, 1_000_000, 'refused streams on one connection'),
                flood_window: durationField(),
                max_client_resets: count(1, 100_000_000, 'streams reset by the client per window'),
                max_pings: count(1, 100_000_000, 'PING frames per window'),
                max_settings_frames: count(1, 100_000_000, 'SETTINGS frames per window'),
                max_requests: count(1, 1_000_000_000, 'new streams per window on one connection'),
                send_timeout: durationField(),
                idle_timeout: durationField(),
              },
              'a mapping of HTTP/2 bounds',
            ),
          ),
          spool: Type.Optional(
            mapping(
              { max_response: sizeField(), max_total: sizeField() },
              'a mapping with max_response and/or max_total',
            ),
          ),
          spool_dir: Type.Optional(filePath('a directory for responses spooled to disk')),
          buffer_total: sizeField(),
          per_client: Type.Optional(
            mapping(
              {
                connections: count(1, 1_000_000, 'connections one client address may hold'),
                requests: count(1, 1_000_000, 'requests one client may have in flight'),
                key: oneOf(['address', 'identity']),
              },
              'a mapping with connections and/or requests, and key',
            ),
          ),
        },
        'a mapping of limits',
      ),
    ),
    metrics: Type.Optional(
      mapping(
        {
          listen: Type.String({
            format: FORMAT.listenAddress,
            expected: 'host:port like 127.0.0.1:9464',
          }),
          allowed_hosts: Type.Optional(
            Type.Array(
              Type.String({
                format: FORMAT.routeHost,
                expected: 'a host name like gateway-1.internal or *.example.com',
              }),
              { expected: 'a list of host names the metrics listener also answers for' },
            ),
          ),
        },
        'a mapping with listen',
      ),
    ),
    drain: Type.Optional(
      mapping(
        {
          delay: Type.Optional(
            Type.String({ format: FORMAT.delay, expected: 'a duration like 0s, 250ms or 5s' }),
          ),
          timeout: durationField(),
        },
        'a mapping of drain settings',
      ),
    ),
    admin: Type.Optional(
      mapping(
        {
          listen: Type.Optional(
            Type.String({
              format: FORMAT.listenAddress,
              expected: 'host:port like 127.0.0.1:9901',
            }),
          ),
          token_file: Type.Optional(filePath('a file holding the admin token')),
          token_env: Type.Optional(
            Type.String({
              pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
              expected: 'the name of an environment variable like CANDOR_ADMIN_TOKEN',
            }),
          ),
          probes_path: Type.Optional(
            Type.String({ format: FORMAT.routePath, expected: 'a path prefix starting with "/"' }),
          ),
          allowed_hosts: Type.Optional(
            Type.Array(
              Type.String({
                format: FORMAT.routeHost,
                expected: 'a host name like admin.example.com or *.example.com',
              }),
              { expected: 'a list of host names the admin API also answers for' },
            ),
          ),
        },
        'a mapping with listen and token_file or token_env',
      ),
    ),
    log: Type.Optional(
      mapping(
        {
          level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
          destination: Type.Optional(
            Type.String({ minLength: 1, expected: 'stdout, stderr or a file path' }),
          ),
        },
        'a mapping of log settings',
      ),
    ),
    tracing: Type.Optional(
      mapping(
        {
          otlp_endpoint: Type.String({
            format: FORMAT.otlpEndpoint,
            expected: 'an http(s) URL like http://127.0.0.1:4318/v1/traces',
          }),
          sample_ratio: ratio('the share of new traces recorded'),
          service_name: Type.Optional(Type.String({ minLength: 1, expected: 'a service name' })),
        },
        'a mapping with otlp_endpoint',
      ),
    ),
  },
  'a mapping with listen, routes and upstreams',
);

/** The document as written, once it has passed the schema. */
export type RawConfig = Static<typeof ConfigSchema>;

export type PathSegment = string | number;

/** The schema that applies at `path` in the document, if the path exists in the schema. */
export function schemaAt(path: readonly PathSegment[]): TSchema | undefined {
  let schema: TSchema | undefined = ConfigSchema;
  for (const segment of path) {
    schema = childSchema(schema, segment);
    if (schema === undefined) return undefined;
  }
  return schema;
}

function childSchema(schema: TSchema, segment: PathSegment): TSchema | undefined {
  if (KindGuard.IsArray(schema)) return typeof segment === 'number' ? schema.items : undefined;
  if (KindGuard.IsRecord(schema)) return Object.values(schema.patternProperties)[0];
  if (KindGuard.IsObject(schema))
    return Object.hasOwn(schema.properties, segment) ? schema.properties[segment] : undefined;
  return undefined;
}

/** Every field the file may contain, e.g. "upstreams.*.timeouts.connect", "routes[].match.path". */
export const CONFIG_FIELD_PATHS: readonly string[] = Object.freeze(fieldPaths(ConfigSchema, ''));

function fieldPaths(schema: TSchema, prefix: string): string[] {
  if (KindGuard.IsArray(schema)) return fieldPaths(schema.items, `${prefix}[]`);
  if (KindGuard.IsRecord(schema))
    return fieldPaths(Object.values(schema.patternProperties)[0], `${prefix}.*`);
  if (!KindGuard.IsObject(schema)) return [];
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [path, ...fieldPaths(child, path)];
  });
}
