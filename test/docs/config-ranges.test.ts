/**
 * Every numeric range the config reference gives ("integer 1–1000", "integer ≥ 1", "number
 * 0.5–<1") is the one the loader holds: in the complete example, each such field set to each
 * end of its range loads, and set just past either end (or to a fraction, for an integer) is
 * refused naming that field. Every list of values it gives (`http1`, `h2c` or `h2`) is the
 * schema's. A reader who trusts the table writes values that load.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ConfigError, type ConfigProblem } from '../../src/core/config/config-error.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import { ConfigSchema } from '../../src/core/config/schema.ts';
import { DOCS_TEXT, docsSection } from '../helpers/docs-text.ts';

const ROOT = join(import.meta.dirname, '../..');
const EXAMPLE = join(ROOT, 'docs/examples/complete.yaml');
const ENV = {
  CANDOR_ADMIN_TOKEN: 'example-token-0123456789abcdef',
  CANDOR_TSIG_SECRET: 'c2VjcmV0LW9mLXRoZS1leGFtcGxlLWtleQ==',
};

interface Range {
  readonly integer: boolean;
  readonly min: number;
  /** The minimum itself is refused ("number > 0"). */
  readonly minOpen: boolean;
  readonly max: number | undefined;
  /** The maximum itself is refused ("0.5–<1"). */
  readonly maxOpen: boolean;
}

/** The range a type cell states, or undefined when it states none. */
function rangeOf(cell: string): Range | undefined {
  const text = cell.replace(/(\d) (?=\d{3}\b)/g, '$1');
  let m = /^(integer|number) ≥ (-?[\d.]+)$/.exec(text);
  if (m)
    return { integer: m[1] === 'integer', min: Number(m[2]), minOpen: false, max: undefined, maxOpen: false };
  m = /^(integer|number) > (-?[\d.]+)$/.exec(text);
  if (m)
    return { integer: m[1] === 'integer', min: Number(m[2]), minOpen: true, max: undefined, maxOpen: false };
  m = /^(integer|number) (-?[\d.]+)–(<?)([\d.]+)$/.exec(text);
  if (m)
    return {
      integer: m[1] === 'integer',
      min: Number(m[2]),
      minOpen: false,
      max: Number(m[4]),
      maxOpen: m[3] === '<',
    };
  m = /^([\d.]+) to ([\d.]+)$/.exec(text);
  if (m) return { integer: true, min: Number(m[1]), minOpen: false, max: Number(m[2]), maxOpen: false };
  return undefined;
}

/** The rows of the config reference whose type states a numeric range. */
function rangedFields(): [field: string, range: Range][] {
  const rows: [string, Range][] = [];
  for (const line of docsSection('Configuration').split('\n')) {
    const m = /^\| `([^`]+)` \| ([^|]+?) \|/.exec(line);
    const range = m ? rangeOf(m[2].trim()) : undefined;
    if (m && range) rows.push([m[1], range]);
  }
  return rows;
}

/** Where a field is set: its concrete path (`routes[3].rate_limit.burst`), the mapping and key that hold it. */
interface Place {
  readonly path: string;
  readonly parent: Record<string, unknown>;
  readonly key: string;
}

/** The first place in the document where `field` (`routes[].rate_limit.burst`) is set. */
function locate(document: unknown, field: string): Place | undefined {
  const segments = field.split('.').flatMap((segment) => segment.split(/(?=\[\])/));
  const walk = (node: unknown, at: number, path: string): Place | undefined => {
    if (node === null || typeof node !== 'object') return undefined;
    const segment = segments[at];
    const last = at === segments.length - 1;
    if (segment === '[]') {
      if (!Array.isArray(node)) return undefined;
      for (const [index, item] of node.entries()) {
        const found = walk(item, at + 1, `${path}[${index}]`);
        if (found) return found;
      }
      return undefined;
    }
    const entries =
      segment === '*' ? Object.entries(node) : [[segment, (node as Record<string, unknown>)[segment]]];
    for (const [key, value] of entries as [string, unknown][]) {
      if (value === undefined) continue;
      const here = path === '' ? key : `${path}.${key}`;
      if (last) return { path: here, parent: node as Record<string, unknown>, key };
      const found = walk(value, at + 1, here);
      if (found) return found;
    }
    return undefined;
  };
  return walk(document, 0, '');
}

/** The problems of the complete example with `field` set to `value`. */
function problemsWith(
  field: string,
  value: number | string,
): { path: string; problems: readonly ConfigProblem[] } {
  const document = parse(readExample());
  const place = locate(document, field);
  assert.ok(place, `${field} is set somewhere in the complete example`);
  place.parent[place.key] = value;
  try {
    parseConfig(stringify(document), EXAMPLE, ENV, { secrets: 'may-be-absent' });
    return { path: place.path, problems: [] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { path: place.path, problems: err.problems };
  }
}

let example: string | undefined;
function readExample(): string {
  example ??= readFileSync(EXAMPLE, 'utf8');
  return example;
}

const fields = rangedFields();

test('the config reference states numeric ranges to check', () => {
  assert.ok(fields.length >= 30, `found ${fields.length}`);
});

for (const [field, range] of fields) {
  test(`${field}: the ends of its documented range load, just past them is refused naming it`, () => {
    const step = range.integer ? 1 : 0.01;
    const inside = [range.minOpen ? range.min + step : range.min];
    const outside = [range.minOpen ? range.min : range.min - step];
    if (range.max !== undefined) {
      inside.push(range.maxOpen ? range.max - step : range.max);
      outside.push(range.maxOpen ? range.max : range.max + step);
    }
    if (range.integer) outside.push(range.min + 0.5);
    for (const value of inside) {
      const { path, problems } = problemsWith(field, value);
      const about = problems.filter((p) => p.path === path);
      assert.deepEqual(about, [], `${path}: ${value} is inside the documented range`);
    }
    for (const value of outside) {
      const { path, problems } = problemsWith(field, value);
      assert.ok(
        problems.some((p) => p.path === path),
        `${path}: ${value} is outside the documented range, yet loads (problems: ${JSON.stringify(problems.map((p) => p.path))})`,
      );
    }
  });
}

type SchemaNode = {
  readonly properties?: Record<string, SchemaNode>;
  readonly items?: SchemaNode;
  readonly patternProperties?: Record<string, SchemaNode>;
  readonly anyOf?: readonly SchemaNode[];
  readonly const?: unknown;
};

/** The literal values the schema allows at a docs field path, when it allows only literals. */
function literalsAt(field: string): unknown[] | undefined {
  let nodes: SchemaNode[] = [ConfigSchema as SchemaNode];
  // Optional fields and unions of objects: each member (a union of literals is the answer itself).
  const spread = (list: SchemaNode[]): SchemaNode[] =>
    list.flatMap((node) => {
      const members = node.anyOf;
      return members?.some((m) => m.const === undefined) ? spread([...members]) : [node];
    });
  for (const segment of field.split('.').flatMap((s) => s.split(/(?=\[\])/))) {
    nodes = spread(nodes).flatMap((node) => {
      if (segment === '[]') return node.items ? [node.items] : [];
      if (segment === '*') return Object.values(node.patternProperties ?? {}).slice(0, 1);
      const child = node.properties?.[segment];
      return child ? [child] : [];
    });
  }
  const members = nodes.flatMap((node) => node.anyOf ?? []);
  return members.length > 0 && members.every((m) => m.const !== undefined)
    ? members.map((m) => m.const)
    : undefined;
}

/** Rows whose type lists the literal values a field takes (`` `http1`, `h2c` or `h2` ``), placeholders aside. */
function enumeratedFields(): [field: string, values: string[]][] {
  const rows: [string, string[]][] = [];
  for (const line of docsSection('Configuration').split('\n')) {
    const m = /^\| `([^`]+)` \| ((?:`[^`]+`(?:,? | or )?)+) \|/.exec(line);
    if (!m) continue;
    const values = [...m[2].matchAll(/`([^`]+)`/g)].map((v) => v[1]);
    if (values.some((v) => /[A-Z]{4}|:/.test(v) && !/^[A-Z]+$/.test(v))) continue;
    rows.push([m[1], values]);
  }
  return rows;
}

test("every list of values the config reference gives is the schema's, each of them", () => {
  const rows = enumeratedFields();
  assert.ok(rows.length >= 10, `found ${rows.length}`);
  for (const [field, values] of rows) {
    const allowed = literalsAt(field);
    assert.ok(allowed, `${field}: the schema allows only literals there`);
    assert.deepEqual(
      values.map((v) => (/^\d+$/.test(v) && allowed.includes(Number(v)) ? Number(v) : v)).sort(),
      [...allowed].sort(),
      `${field}: the docs list what the schema takes`,
    );
  }
});

/**
 * docs/configuration.md, Durations: zero is refused, and so is one past 596h, but for the rows
 * whose type says `0s` is allowed and the fields the paragraph names as no timer's wait.
 */
const NO_TIMER = /, but for\s+([^;()]*?), which no timer waits for/.exec(DOCS_TEXT)?.[1] ?? '';
function durationFields(): [field: string, type: string][] {
  const rows: [string, string][] = [];
  for (const line of docsSection('Configuration').split('\n')) {
    const m = /^\| `([^`]+)` \| (duration[^|]*?) \|/.exec(line);
    if (m && !m[1].startsWith('route_defaults.')) rows.push([m[1], m[2]]);
  }
  return rows;
}

test('every duration row: 0s refused unless its type allows it, past 596h refused unless no timer waits for it', () => {
  assert.notEqual(NO_TIMER, '', 'the Durations paragraph names the durations no timer waits for');
  const rows = durationFields();
  assert.ok(rows.length >= 50, `found ${rows.length}`);
  const wrong: string[] = [];
  for (const [field, type] of rows) {
    const zeroAllowed = /`0s`/.test(type);
    const zero = problemsWith(field, '0s');
    if (zero.problems.some((p) => p.path === zero.path) === zeroAllowed)
      wrong.push(
        `${zero.path}: 0s ${zeroAllowed ? 'refused, though its type allows it' : 'loads, though its type is "duration"'}`,
      );
    const unbounded = NO_TIMER.includes(`\`${field}\``);
    const long = problemsWith(field, '597h');
    if (long.problems.some((p) => p.path === long.path && p.message.includes('596h')) === unbounded)
      wrong.push(
        `${long.path}: 597h ${unbounded ? 'refused, though no timer waits for it' : 'loads, past the longest timer'}`,
      );
  }
  assert.deepEqual(wrong, []);
});
