/**
 * Borrowed names keep their meaning: a failure type whose flag is one of Envoy's response
 * flags means what Envoy's flag means (explain's Envoy reader reads the flag back to that very
 * type), and every other flag is Candor's own, none of Envoy's letters. One repository, one
 * meaning per flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAILURES, type FailureType } from '../../../src/core/failure/taxonomy.ts';
import { readFlags } from '../../../src/kits/explain/readers/envoy-flags.ts';

/** Envoy's response flags (%RESPONSE_FLAGS%, short form), every one Envoy documents. */
const ENVOY_FLAGS = new Set([
  'UH',
  'UF',
  'UO',
  'NR',
  'URX',
  'NC',
  'DT',
  'DC',
  'LH',
  'UT',
  'LR',
  'UR',
  'UC',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'IH',
  'SI',
  'DPE',
  'UPE',
  'UMSDR',
  'RFCF',
  'NFCF',
  'OM',
  'DF',
  'DO',
  'DR',
  'UDO',
]);

const flagged = Object.entries(FAILURES) as Array<[FailureType, (typeof FAILURES)[FailureType]]>;

test("a taxonomy flag written with Envoy's letters is read back by explain as the same failure type", () => {
  const borrowed = flagged.filter(([, kind]) => ENVOY_FLAGS.has(kind.flag));
  assert.ok(borrowed.length >= 5, `${borrowed.length} borrowed flags`);
  for (const [type, kind] of borrowed)
    assert.equal(readFlags(kind.flag).failure, type, `${type} is flagged ${kind.flag}`);
});

test("every other flag is Candor's own: none of Envoy's letters, and no two types share one", () => {
  const flags = flagged.map(([, kind]) => kind.flag);
  assert.equal(new Set(flags).size, flags.length, `a flag names two types: ${flags.join(', ')}`);
  for (const [type, kind] of flagged) {
    if (ENVOY_FLAGS.has(kind.flag)) continue;
    assert.equal(readFlags(kind.flag).failure, undefined, `${type}: ${kind.flag} means something to explain`);
  }
});

test('the renamed flags: no route to the host is UNR, the gateway answering itself is PIR', () => {
  assert.equal(FAILURES.destination_ip_unroutable.flag, 'UNR');
  assert.equal(FAILURES.proxy_internal_response.flag, 'PIR');
});

test("a final refusal's own flag (an access rule's 401/403) is Candor's own too, and names no other type", () => {
  const flags = new Set<string>(flagged.map(([, kind]) => kind.flag));
  const finals = flagged.flatMap(([type, kind]) =>
    'finalFlag' in kind ? [[type, kind.finalFlag as string] as const] : [],
  );
  assert.ok(finals.length >= 1);
  for (const [type, flag] of finals) {
    assert.ok(!ENVOY_FLAGS.has(flag), `${type}: ${flag} is one of Envoy's`);
    assert.ok(!flags.has(flag), `${type}: ${flag} is a kind's flag already`);
    assert.equal(readFlags(flag).failure, undefined, `${type}: ${flag} means something to explain`);
  }
});
