/**
 * The complete example, docs/examples/complete.yaml: `candor check` accepts it with the files it
 * names (beside it), it uses every field of the config schema (walked from the TypeBox schema,
 * so a field added to the schema fails this test until the example uses it), and the README
 * shows it as it is.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KindGuard, type TSchema } from '@sinclair/typebox';
import { parse } from 'yaml';
import { CONFIG_FIELD_PATHS, ConfigSchema } from '../../src/core/config/schema.ts';
import { DOCS_TEXT } from '../helpers/docs-text.ts';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = 'docs/examples/complete.yaml';
const text = readFileSync(join(ROOT, EXAMPLE), 'utf8');

/**
 * Fields of which one excludes the other: the example uses the one in the key only when it
 * does not use the one in the value (and says so in a comment).
 */
const ALTERNATIVES: Readonly<Record<string, string>> = {
  'admin.token_file': 'admin.token_env',
};

/** Every schema field path the document sets, walking the schema alongside it. */
function usedFields(schema: TSchema, value: unknown, path: string, out: Set<string>): Set<string> {
  if (path !== '') out.add(path);
  if (KindGuard.IsUnion(schema)) {
    for (const member of schema.anyOf) usedFields(member, value, path, out);
    out.add(path);
  } else if (KindGuard.IsArray(schema) && Array.isArray(value)) {
    for (const item of value) usedFields(schema.items, item, `${path}[]`, out);
  } else if (KindGuard.IsRecord(schema) && isMapping(value)) {
    const items = Object.values(schema.patternProperties)[0] as TSchema;
    for (const item of Object.values(value)) usedFields(items, item, `${path}.*`, out);
  } else if (KindGuard.IsObject(schema) && isMapping(value)) {
    for (const [key, item] of Object.entries(value)) {
      const child = schema.properties[key];
      if (child !== undefined) usedFields(child, item, path === '' ? key : `${path}.${key}`, out);
    }
  }
  return out;
}

/**
 * A name inside a map's values that the schema lists as one field (`match.headers: { X-Canary:
 * { present: true } }`): the value's own syntax, documented with its field, not a field of its own.
 */
function insideValue(field: string): boolean {
  const at = field.indexOf('.*.');
  if (at === -1) return false;
  const map = field.slice(0, at);
  return CONFIG_FIELD_PATHS.includes(map) && !CONFIG_FIELD_PATHS.some((known) => known.startsWith(`${map}.`));
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * `route_defaults.X` is the schema node of `routes[].X` itself (schema-route.ts): used where the
 * example has `route_defaults` and a route uses `X`, so that the example need not write every
 * route field twice (and give each default to routes it would change).
 */
function usedAsDefault(field: string, used: ReadonlySet<string>): boolean {
  return (
    field.startsWith('route_defaults.') &&
    used.has('route_defaults') &&
    used.has(`routes[]${field.slice('route_defaults'.length)}`)
  );
}

test(`${EXAMPLE} uses every field of the config schema`, () => {
  const used = usedFields(ConfigSchema, parse(text), '', new Set());
  const missing = CONFIG_FIELD_PATHS.filter(
    (field) =>
      !used.has(field) &&
      !(field in ALTERNATIVES && used.has(ALTERNATIVES[field])) &&
      !usedAsDefault(field, used),
  );
  assert.deepEqual(
    missing,
    [],
    `${EXAMPLE} does not use ${missing.length} schema field(s); add each with a value candor check accepts (and the README's copy):\n${missing.map((field) => `  - ${field}`).join('\n')}\n`,
  );
  // The walk reads the schema's own names: nothing it found is unknown to CONFIG_FIELD_PATHS
  // (list items and upstream names, `[]` and `.*`, are not fields of their own).
  assert.deepEqual(
    [...used].filter(
      (field) => !/(\[\]|\.\*)$/.test(field) && !CONFIG_FIELD_PATHS.includes(field) && !insideValue(field),
    ),
    [],
  );
});

/**
 * Every route but the first, which writes response_headers and every timeout of its own, takes the
 * example's default header rules; those that forward (all but FORWARD_NOTHING) its timeouts too.
 */
const DEFAULTED = [
  'api-v1-writes',
  'api-v1-canary',
  'pages',
  'api-v3',
  'http-to-https',
  'old-docs',
  'admin-tls',
  'site',
  'api-v2',
  'sites',
  'console',
  'users',
  'objects',
  'portal',
  'billing',
  'status', // conf.d/status.yaml's, included: named as that file writes it
];
/** Where each route of DEFAULTED is written: `routes[N]` of the example, or of its included file. */
const writtenAs = (name: string, i: number): string =>
  name === 'status' ? `routes[0] "status" (docs/examples/conf.d/status.yaml)` : `routes[${i + 1}] "${name}"`;
/** Redirects and static files: no timeouts to take. */
const FORWARD_NOTHING = new Set(['http-to-https', 'old-docs', 'admin-tls', 'site']);

test(`candor check accepts ${EXAMPLE} as it is, with the files it names`, () => {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin/candor.js'), 'check', EXAMPLE], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CANDOR_ADMIN_TOKEN: 'example-token-0123456789abcdef',
      CANDOR_TSIG_SECRET: 'c2VjcmV0LW9mLXRoZS1leGFtcGxlLWtleQ==',
      CANDOR_OIDC_SECRET: 'example-client-secret',
      CANDOR_SESSION_SECRET: 'example-session-secret-0123456789abcdef',
      CANDOR_LOG: '',
    },
  });
  assert.equal(result.stderr, '');
  assert.equal(
    result.stdout,
    `${EXAMPLE}: ok (gateway "edge-1", 2 listener(s), 17 route(s), 6 upstream(s))\nroute defaults taken:\n${DEFAULTED.map((name, i) => `  ${writtenAs(name, i)}: response_headers${FORWARD_NOTHING.has(name) ? '' : ', timeouts'}\n`).join('')}`,
  );
  assert.equal(result.status, 0);
});

test('the docs show the example as the file holds it, and link the file', () => {
  const linked =
    DOCS_TEXT.includes(`(${EXAMPLE})`) || DOCS_TEXT.includes(`(${EXAMPLE.replace(/^docs\//, '')})`);
  assert.ok(linked, `README.md or docs/ links ${EXAMPLE}`);
  const block = /\n```yaml\n(# Every field of Candor's config[\s\S]*?)```\n/.exec(DOCS_TEXT)?.[1];
  assert.ok(block !== undefined, 'the docs show the example (a yaml block starting with its first line)');
  assert.equal(block, text, `the docs' copy of ${EXAMPLE} differs from the file`);
});
