/**
 * The core of a request knows the stage contract, never a feature's stage: the session and the
 * exchange import src/proxy/stages/ and no module that builds a stage (`*-stage.ts`); the
 * stages are built in the composition root (src/server/gateway/stage-builders.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '../../src');

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

const core = [
  ...filesUnder('proxy/session'),
  ...filesUnder('proxy/forward').filter((f) => /\/exchange[^/]*\.ts$/.test(f)),
];

test('the session and the exchange import no stage of a feature', () => {
  const found: string[] = [];
  for (const file of core) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/-stage\.ts$/.test(spec) && !spec.includes('/stages/')) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

test('every module that builds a stage is named for it and built only by the composition root', () => {
  const builders = filesUnder('.').filter((f) => f.endsWith('-stage.ts'));
  assert.ok(builders.length > 0, 'Candor has stages');
  const importers: string[] = [];
  for (const file of filesUnder('.')) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/-stage\.ts$/.test(spec) && !file.startsWith('server/gateway/'))
        importers.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(importers, []);
});

/**
 * What of src/proxy/admit/ is not access control: the admit phase and its policies (maintenance,
 * rate limits, load shedding), and the fields as an edit leaves them. Everything else there (IP
 * lists, CORS, basic, JWT, forward auth, OpenID Connect, client certificates, identity, the auth
 * hops) is a route's access stage (admit/access-stage.ts), which the core never names.
 */
const ADMISSION = new Set([
  'admit-request.ts',
  'admission.ts',
  'maintenance.ts',
  'rate-limit.ts',
  'redis-rates.ts',
  'gateway-rate-limits.ts',
  'load-shedding.ts',
  'in-flight-limit.ts',
  'client-slots.ts',
  'fields-after-access.ts',
]);

test('the session and the exchange import no module of access control', () => {
  const found: string[] = [];
  for (const file of core) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g)) {
      const at = spec.indexOf('/admit/');
      if (at !== -1 && !ADMISSION.has(spec.slice(at + '/admit/'.length)))
        found.push(`${file} imports ${spec}`);
    }
  }
  assert.deepEqual(found, []);
});

/**
 * The split and the canary are a route's split stage (select/split-stage.ts: stage.ts's
 * chooseUpstream and upstreamsNow): the core names neither. The splits by route are the
 * server's (LiveRuntime.splits: the canary controller and the admin API move them), handed to
 * the split's and the cache's stages by the composition root (stage-builders.ts).
 */
test('the session and the exchange import no module of the split', () => {
  const found: string[] = [];
  for (const file of core) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/\/split[^/]*\.ts$/.test(spec)) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

/**
 * The exchange and the core's backpressure know the overflow's interface (answer-overflow.ts),
 * never the spool behind it: the spool's modules are not on their import list.
 */
test('the exchange and its backpressure import no spool module', () => {
  const found: string[] = [];
  for (const file of [...core, 'proxy/forward/client-backpressure.ts']) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/(^|\/)(answer-spool|spool-space|spool-dir)\.ts$/.test(spec)) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

/**
 * The exchange reads a protocol's answers through one door (answer-relay.ts): gRPC's relay, its
 * cut and its timeout are no module of the exchange's, and no field of the exchange names gRPC.
 */
test('the exchange imports no gRPC module and names no gRPC field', () => {
  const found: string[] = [];
  for (const file of core.filter((f) => f.startsWith('proxy/forward/'))) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/grpc/i.test(spec)) found.push(`${file} imports ${spec}`);
    for (const [field] of text.matchAll(/^ {2}(private |readonly )*[a-zA-Z#]*grpc[a-zA-Z]*[?]?:/gim))
      found.push(`${file} has ${field.trim()}`);
  }
  assert.deepEqual(found, []);
});

test('the exchange holds one thing a file: its answer side under 400 lines, its request side apart', () => {
  for (const file of ['proxy/forward/exchange.ts', 'proxy/forward/exchange-attempt.ts']) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n').length;
    assert.ok(lines < 400, `${file} has ${lines} lines`);
  }
});

test('the session, the exchange and the upstream request import nothing of the response cache: it is a stage', () => {
  const found: string[] = [];
  for (const file of [...core, 'proxy/forward/upstream-request.ts']) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/(^|\/)cache\//.test(spec)) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

/**
 * The core (the session, the exchange and the upstream request every attempt sends) names no
 * feature: it imports none of the header rules' modules, the canary's or the response cache's,
 * and no identifier of its code (comments and strings aside) names the cache, the canary or
 * header rules. What they did through it is the contract's: a stage's `requestEdit` (the request
 * header rules, their variables facts every stage reads), the attempt counter a chosen upstream
 * or the runtime hands the attempt loop (core/failure's AttemptCounter: a canary's window), a
 * request a stage made (DownstreamExchange.background: a stored answer's refresh), and the
 * record's `stageAnswered` (a stage's answer in the upstream's place is the gateway's). gRPC is
 * no route's feature but a protocol the core speaks (grpc-status in the failure contract,
 * grpc-timeout in the total deadline): the core names it, and this test leaves it alone.
 */
const walled = [...core, 'proxy/forward/upstream-request.ts'];

test('the core imports no module of the header rules or the canary (nor of the cache: above)', () => {
  const found: string[] = [];
  for (const file of walled) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const [, spec] of text.matchAll(/from '([^']+)'/g))
      if (/(^|\/)header-rules[^/]*\.ts$|(^|\/)canary\//.test(spec)) found.push(`${file} imports ${spec}`);
  }
  assert.deepEqual(found, []);
});

/** A file's code without its comments and the text of its strings (a `Cache-Control` field name is no identifier). */
function codeOf(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

test('no identifier of the core names the cache, the canary or header rules', () => {
  const found: string[] = [];
  for (const file of walled) {
    const code = codeOf(readFileSync(join(root, file), 'utf8'));
    for (const [name] of code.matchAll(/[A-Za-z_$#][\w$]*/g))
      if (/cache|canary|header_?rules?|templatevars|(request|response)headers/i.test(name))
        found.push(`${file}: ${name}`);
  }
  assert.deepEqual(found, []);
});
