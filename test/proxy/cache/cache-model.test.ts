/**
 * A model-based fuzz of the route's shared cache against RFC 9111 (HTTP Caching), RFC 9211
 * (Cache-Status), RFC 5861 and docs/serving-stale.md with docs/configuration.md's
 * `routes[].cache` (where the docs narrow the RFC, the docs are the contract). fast-check picks,
 * for three URLs, what a real origin answers (status 200, 203, 204, 301, 404, 405, 410, 500,
 * 503; Cache-Control max-age, s-maxage, no-store, no-cache, private, public, must-revalidate,
 * proxy-revalidate, stale-while-revalidate, stale-if-error, no-cache="field",
 * private="field"; Expires in the past, the future, or `0`; Date now, absent, or skewed; Age;
 * Last-Modified; a strong or weak ETag; Vary on Accept-Encoding, Accept-Language or `*`;
 * Set-Cookie) and a sequence of 10–40 steps: a GET or HEAD (with request Cache-Control
 * no-cache, max-age=0, only-if-cached or max-stale, If-None-Match or If-Modified-Since,
 * Accept-Encoding, Accept-Language, Authorization), a POST, PUT or DELETE, or the origin
 * changing its answer for a URL (a new representation, or new fields for the same one).
 *
 * A model written from the RFCs and the docs, not the code, says for each request whether it is
 * served from the store (fresh, or stale where the RFC and the docs allow) or forwarded, with
 * which validators the upstream sees, the status, body and fields-generation the client gets,
 * `Age` on a hit, the `Cache-Status` parameters (hit, fwd=uri-miss|vary-miss|stale|request|
 * method, fwd-status, the sign of ttl), an unsafe method's invalidation (§4.4), a 304's
 * freshening of the stored fields (§4.3.4), a HEAD's 200 updating or dropping the stored GET
 * (§4.3.5), what a shared cache never keeps (private, no-store, Set-Cookie, Authorization
 * without public/s-maxage/must-revalidate), Vary's choice of variant (one per key, docs), a HEAD
 * answered from a stored GET, stale-while-revalidate's background refresh and stale-if-error
 * standing in for the origin's 500 or 503; and counts what reached the upstream.
 *
 * Time: the gateway has no clock to inject, so answers are placed in the past by their `Age`
 * (3000 s) or a `Date` 3000 s behind; lifetimes are 0, 600, 100000 s or a day of heuristic, so
 * each answer is plainly fresh or stale (and how stale: about 0 s, or 2400 s and more), never
 * near an edge, whatever the machine's speed. Every client wait is bounded (5 s), and so is the
 * property's time. A fixed seed in CI; CANDOR_FUZZ_SEED and CANDOR_FUZZ_RUNS (a factor on the
 * runs) search further by hand:
 *   CANDOR_FUZZ_RUNS=20 CANDOR_FUZZ_SEED=$RANDOM node_modules/.bin/node --test \
 *     --import=./test/helpers/preload.mjs --test-force-exit test/proxy/cache/cache-model.test.ts
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

const SEED = Number(process.env.CANDOR_FUZZ_SEED ?? 20261201);
const FACTOR = Number(process.env.CANDOR_FUZZ_RUNS ?? 1);
const RUNS = 60 * FACTOR;

/** The route's `stale_if_error` (its default, 5m): the most a stored answer stands in for a failure, and is kept past its freshness. */
const STALE_IF_ERROR_CAP = 300;
const DAY = 86_400;
/** Where the clock of the run began: Last-Modified dates are counted from it. */
const EPOCH = Math.floor(Date.now() / 1000);

type Status = 200 | 203 | 204 | 301 | 404 | 405 | 410 | 500 | 503;
const HEURISTIC: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** What the origin says of one representation (apart from its validators, fixed per URL). */
interface Spec {
  status: Status;
  maxAge?: 0 | 600 | 100_000;
  sMaxAge?: 0 | 100_000;
  noStore: boolean;
  noCache: boolean;
  priv: boolean;
  pub: boolean;
  mustRevalidate: boolean;
  proxyRevalidate: boolean;
  swr?: 60 | 100_000;
  sie?: 60 | 100_000;
  noCacheField: boolean;
  privateField: boolean;
  expires?: 'past' | 'future' | 'zero';
  date: 'now' | 'absent' | 'past' | 'future';
  age?: 0 | 3000;
  vary?: 'Accept-Encoding' | 'Accept-Language' | '*';
  setCookie: boolean;
}

/** One URL's validators, the same for every representation of it (so a 304 names or misses the stored one plainly). */
interface Validators {
  etag?: 'strong' | 'weak';
  lastModified: boolean;
}

type Cond = 'inm-current' | 'inm-other' | 'ims-current' | 'ims-old';
type ReqCc = 'no-cache' | 'max-age=0' | 'only-if-cached' | 'max-stale' | 'max-stale=60' | 'max-stale=100000';

type Step =
  | {
      kind: 'read';
      method: 'GET' | 'HEAD';
      url: number;
      cc?: ReqCc;
      cond?: Cond;
      ae?: 'gzip' | 'br';
      al?: 'en' | 'fr';
      auth: boolean;
    }
  | { kind: 'write'; method: 'POST' | 'PUT' | 'DELETE'; url: number; status: 200 | 204 | 404 | 500 }
  | { kind: 'change'; url: number; spec: Spec; newVersion: boolean };

interface Scenario {
  validators: Validators[];
  specs: Spec[];
  steps: Step[];
}

/** The origin's current representation of one URL. */
interface Rep {
  spec: Spec;
  val: Validators;
  version: number;
  gen: number;
  name: string;
}

const etagOf = (rep: { val: Validators; version: number }): string | undefined =>
  rep.val.etag === undefined
    ? undefined
    : rep.val.etag === 'strong'
      ? `"v${rep.version}"`
      : `W/"v${rep.version}"`;
const lmSeconds = (version: number): number => EPOCH - 10 * DAY + version * 60;
const lmOf = (rep: { val: Validators; version: number }): string | undefined =>
  rep.val.lastModified ? new Date(lmSeconds(rep.version) * 1000).toUTCString() : undefined;
const opaque = (tag: string): string => tag.replace(/^W\//, '');

function cacheControlOf(spec: Spec): string {
  const parts: string[] = [];
  if (spec.maxAge !== undefined) parts.push(`max-age=${spec.maxAge}`);
  if (spec.sMaxAge !== undefined) parts.push(`s-maxage=${spec.sMaxAge}`);
  if (spec.noStore) parts.push('no-store');
  if (spec.noCache) parts.push('no-cache');
  if (spec.priv) parts.push('private');
  if (spec.pub) parts.push('public');
  if (spec.mustRevalidate) parts.push('must-revalidate');
  if (spec.proxyRevalidate) parts.push('proxy-revalidate');
  if (spec.swr !== undefined) parts.push(`stale-while-revalidate=${spec.swr}`);
  if (spec.sie !== undefined) parts.push(`stale-if-error=${spec.sie}`);
  if (spec.noCacheField) parts.push('no-cache="X-Secret"');
  if (spec.privateField) parts.push('private="X-Secret"');
  return parts.join(', ');
}

interface Answer {
  status: number;
  fields: [string, string][];
  body: string;
  /** The answer's fields generation (X-Gen): which representation, and which of its updates. */
  gen: string;
}

/** What the origin answers a request (the harness sends it; the model predicts with it). */
function originAnswer(rep: Rep, method: string, inm: string | undefined, ims: string | undefined): Answer {
  const spec = rep.spec;
  const etag = etagOf(rep);
  const lm = lmOf(rep);
  let status: number = spec.status;
  if ((method === 'GET' || method === 'HEAD') && status >= 200 && status < 300) {
    // RFC 9110 §13.2.2: If-None-Match first (weak comparison), If-Modified-Since only without it.
    if (inm !== undefined) {
      if (etag !== undefined && inm.split(',').some((t) => opaque(t.trim()) === opaque(etag))) status = 304;
    } else if (ims !== undefined && lm !== undefined && Date.parse(lm) <= Date.parse(ims)) status = 304;
  }
  const now = Math.floor(Date.now() / 1000);
  const gen = `${rep.version}.${rep.gen}`;
  const fields: [string, string][] = [];
  const cc = cacheControlOf(spec);
  if (cc) fields.push(['Cache-Control', cc]);
  if (spec.expires === 'past') fields.push(['Expires', new Date((now - 100_000) * 1000).toUTCString()]);
  if (spec.expires === 'future') fields.push(['Expires', new Date((now + 100_000) * 1000).toUTCString()]);
  if (spec.expires === 'zero') fields.push(['Expires', '0']);
  if (spec.date === 'now') fields.push(['Date', new Date(now * 1000).toUTCString()]);
  if (spec.date === 'past') fields.push(['Date', new Date((now - 3000) * 1000).toUTCString()]);
  if (spec.date === 'future') fields.push(['Date', new Date((now + 3000) * 1000).toUTCString()]);
  if (spec.age !== undefined) fields.push(['Age', String(spec.age)]);
  if (etag !== undefined) fields.push(['ETag', etag]);
  if (lm !== undefined) fields.push(['Last-Modified', lm]);
  if (spec.vary !== undefined) fields.push(['Vary', spec.vary]);
  if (spec.setCookie) fields.push(['Set-Cookie', `s=${gen}`]);
  fields.push(['X-Gen', gen]);
  fields.push(['X-Secret', `secret-${gen}`]);
  const body = status === 204 || status === 304 ? '' : `${rep.name} v${rep.version}`;
  if (status !== 304) fields.push(['Content-Length', String(Buffer.byteLength(body))]);
  return { status, fields, body, gen };
}

/** One stored answer, as the model keeps it. */
interface Entry {
  status: number;
  body: string;
  gen: string;
  spec: Spec;
  val: Validators;
  version: number;
  /** Its age when it came (seconds), and when that was (ms, this process's clock). */
  age0: number;
  at: number;
  /** The Vary field's value in the request it was stored for (undefined: the request had none). */
  varyValue?: string;
}

function lifetimeOf(spec: Spec, val: Validators, status: number): number {
  if (spec.sMaxAge !== undefined) return spec.sMaxAge;
  if (spec.maxAge !== undefined) return spec.maxAge;
  if (spec.expires === 'past' || spec.expires === 'zero') return 0;
  if (spec.expires === 'future')
    return spec.date === 'past' ? 103_000 : spec.date === 'future' ? 97_000 : 100_000;
  if (val.lastModified && HEURISTIC.has(status)) return DAY;
  return 0;
}

const ageAtArrival = (spec: Spec): number => Math.max(spec.age ?? 0, spec.date === 'past' ? 3000 : 0);
/** no-cache, and its qualified form no-cache="X-Secret", which RFC 9111 §5.2.2.4 lets a cache take as the unqualified one (as the gateway does). */
const noCacheOf = (s: Spec): boolean => s.noCache || s.noCacheField;
const bindsRevalidation = (s: Spec): boolean =>
  s.mustRevalidate || s.proxyRevalidate || s.sMaxAge !== undefined;

/** The entry's current age and how far past its freshness it is (seconds). */
function ageOf(e: Entry): { age: number; staleness: number; fresh: boolean } {
  const age = e.age0 + (Date.now() - e.at) / 1000;
  const life = noCacheOf(e.spec) ? 0 : lifetimeOf(e.spec, e.val, e.status);
  return { age, staleness: age - life, fresh: life > age };
}

/**
 * The stored answer's fields after a 304 (or a HEAD's 200) that names it: its fields replace the
 * stored ones, those it lacks stay (RFC 9111 §3.2, §4.3.4); Cache-Control is one field, replaced
 * whole. A Date it lacks is the time it came (docs); undefined where the model does not judge
 * (a stored Age beside a 304 without one, a Vary it changes).
 */
function merged(old: Spec, next: Spec): Spec | undefined {
  if (next.age === undefined && old.age !== undefined) return undefined;
  if (next.vary !== undefined && next.vary !== old.vary) return undefined;
  const cc = cacheControlOf(next) !== '' ? next : old;
  return {
    status: old.status,
    maxAge: cc.maxAge,
    sMaxAge: cc.sMaxAge,
    noStore: cc.noStore,
    noCache: cc.noCache,
    priv: cc.priv,
    pub: cc.pub,
    mustRevalidate: cc.mustRevalidate,
    proxyRevalidate: cc.proxyRevalidate,
    swr: cc.swr,
    sie: cc.sie,
    noCacheField: cc.noCacheField,
    privateField: cc.privateField,
    expires: next.expires ?? old.expires,
    date: next.date === 'absent' ? 'now' : next.date,
    age: next.age ?? old.age,
    vary: old.vary,
    setCookie: false,
  };
}

/** The answer names the stored one (its ETag, or its Last-Modified without one): it superseded nothing (docs). */
function namesStored(rep: Rep, e: Entry): boolean {
  const tag = etagOf(rep);
  if (tag !== undefined) return etagOf(e) !== undefined && opaque(tag) === opaque(etagOf(e) as string);
  return lmOf(rep) !== undefined && lmOf(rep) === lmOf(e);
}

/** Whether the store keeps it still: within stale_if_error (the route's 5m) or its own stale-while-revalidate past freshness. */
function kept(e: Entry): boolean {
  const { staleness, fresh } = ageOf(e);
  // One never given stale (no-cache, must-revalidate, proxy-revalidate, s-maxage) is kept past its freshness only for a revalidation by its validators (docs).
  if (
    !fresh &&
    (noCacheOf(e.spec) || bindsRevalidation(e.spec)) &&
    e.val.etag === undefined &&
    !e.val.lastModified
  )
    return false;
  const neverStale = noCacheOf(e.spec) || bindsRevalidation(e.spec);
  return staleness <= Math.max(STALE_IF_ERROR_CAP, neverStale ? 0 : (e.spec.swr ?? 0));
}

interface Asked {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

interface Seen {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** What reached the origin during the step (its background refresh too). */
  asked: Asked[];
}

/** Cache-Status's member of edge-1, as a map of its parameters (`hit` → true). */
function cacheStatus(value: string | string[] | undefined): Map<string, string | true> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(', ') : value;
  const member = text.split(',').find((m) => m.trim().startsWith('edge-1'));
  if (member === undefined) return undefined;
  const params = new Map<string, string | true>();
  for (const part of member.split(';').slice(1)) {
    const [k, v] = part.trim().split('=');
    params.set(k, v === undefined ? true : v.replace(/^"|"$/g, ''));
  }
  return params;
}

/**
 * The model: the store as RFC 9111 and the docs say it is, checked against each step's
 * observation. `unknown` URLs are those whose stored state the model cannot tell (never
 * reached with the scenarios here, kept for honesty if it is).
 */
class Model {
  store = new Map<string, Entry>();
  unknown = new Set<string>();
  readonly reps: Map<string, Rep>;
  constructor(reps: Map<string, Rep>) {
    this.reps = reps;
  }

  storable(a: Answer, spec: Spec, auth: boolean): boolean {
    // A qualified private="X-Secret" is kept by neither Candor nor nginx (docs), as RFC 9111 §5.2.2.7 allows.
    if (spec.noStore || spec.priv || spec.privateField || spec.setCookie) return false;
    // Vary: * matches no later request (RFC 9111 §4.1): the gateway keeps none (fwd=uri-miss after it).
    if (spec.vary === '*') return false;
    if (auth && !(spec.pub || spec.sMaxAge !== undefined || spec.mustRevalidate)) return false;
    if (a.status === 206 || a.status === 304) return false;
    // A 500 or 503 is a failure here (stale-if-error's trigger), never kept, whatever its lifetime (RFC 9111 §3 allows, never requires, storing it).
    return HEURISTIC.has(a.status);
  }

  /** A GET or HEAD: checks the observation, updates the store. */
  read(
    step: Extract<Step, { kind: 'read' }>,
    path: string,
    req: Record<string, string>,
    seen: Seen,
    where: string,
  ) {
    const rep = this.reps.get(path) as Rep;
    const cs = cacheStatus(seen.headers['cache-status']);
    const clientCond = step.cond !== undefined;
    if (this.unknown.has(path)) {
      // Nothing is predicted; a forwarded full answer that is stored makes the state known again.
      return;
    }
    let entry = this.store.get(path);
    if (entry !== undefined && !kept(entry)) {
      this.store.delete(path);
      entry = undefined;
    }
    const varyField = entry?.spec.vary;
    const varyMatches =
      entry !== undefined &&
      (varyField === undefined || (varyField !== '*' && entry.varyValue === req[varyField.toLowerCase()]));
    const e = varyMatches ? entry : undefined;
    const clientNoCache = step.cc === 'no-cache' || step.cc === 'max-age=0';
    const maxStale =
      step.cc === 'max-stale'
        ? Number.POSITIVE_INFINITY
        : step.cc?.startsWith('max-stale=')
          ? Number(step.cc.slice('max-stale='.length))
          : undefined;
    const onlyIfCached = step.cc === 'only-if-cached';

    let serve: 'fresh' | 'max-stale' | 'swr' | undefined;
    /** Within the answer's stale-while-revalidate too: a client's max-stale may or may not start a refresh. */
    let maybeRefresh = false;
    if (e !== undefined && !clientNoCache) {
      const { fresh, staleness } = ageOf(e);
      const withinSwr = e.spec.swr !== undefined && staleness <= e.spec.swr;
      if (fresh) serve = 'fresh';
      else if (!noCacheOf(e.spec) && !bindsRevalidation(e.spec)) {
        if (maxStale !== undefined && staleness <= maxStale) {
          serve = 'max-stale';
          maybeRefresh = withinSwr;
        } else if (maxStale === undefined && withinSwr) serve = 'swr';
      }
    }

    if (serve !== undefined && e !== undefined) {
      const refresh = serve === 'swr' || (maybeRefresh && seen.asked.length === 1) ? 1 : 0;
      assert.equal(
        seen.asked.length,
        refresh,
        `${where}: served from the store (${serve}), ${refresh} request upstream`,
      );
      assert.ok(cs?.get('hit') === true, `${where}: Cache-Status says hit (${seen.headers['cache-status']})`);
      if (serve === 'swr') assert.equal(cs?.get('fwd'), 'stale', `${where}: within stale-while-revalidate`);
      else if (serve === 'fresh')
        assert.equal(cs?.has('fwd'), false, `${where}: a hit with no fwd (${seen.headers['cache-status']})`);
      const ttl = Number(cs?.get('ttl'));
      if (serve === 'fresh') assert.ok(ttl > 0, `${where}: a fresh hit's ttl is positive (${ttl})`);
      else assert.ok(ttl <= 0, `${where}: a stale answer's ttl is not positive (${ttl})`);
      const { age } = ageOf(e);
      const sentAge = Number(seen.headers.age);
      assert.ok(
        sentAge >= Math.floor(e.age0) - 2 && sentAge <= age + 3,
        `${where}: Age ${seen.headers.age} for an answer ${e.age0} s old when stored, ${age.toFixed(1)} s now`,
      );
      this.expectStored(e, step, req, seen, where);
      if (refresh) this.afterForward(e, path, rep, step, req, seen.asked[0], 'refresh', where);
      return;
    }

    if (onlyIfCached) {
      assert.equal(seen.asked.length, 0, `${where}: only-if-cached never goes upstream`);
      assert.equal(seen.status, 504, `${where}: only-if-cached with nothing to give is the gateway's 504`);
      assert.equal(
        seen.headers['cache-status'],
        undefined,
        `${where}: the gateway's own answer has no Cache-Status`,
      );
      return;
    }

    // Forwarded.
    assert.equal(seen.asked.length, 1, `${where}: forwarded, one request upstream`);
    const asked = seen.asked[0];
    const fwdExpected =
      entry === undefined ? 'uri-miss' : e === undefined ? 'vary-miss' : clientNoCache ? 'request' : 'stale';
    if (!clientCond) {
      if (e === undefined) {
        assert.equal(asked.headers['if-none-match'], undefined, `${where}: a miss sends no If-None-Match`);
        assert.equal(
          asked.headers['if-modified-since'],
          undefined,
          `${where}: a miss sends no If-Modified-Since`,
        );
      } else {
        const etag = etagOf(e);
        const lm = lmOf(e);
        assert.equal(asked.headers['if-none-match'], etag, `${where}: revalidation's If-None-Match`);
        if (etag === undefined)
          assert.equal(asked.headers['if-modified-since'], lm, `${where}: revalidation's If-Modified-Since`);
        else if (asked.headers['if-modified-since'] !== undefined)
          assert.equal(asked.headers['if-modified-since'], lm, `${where}: revalidation's If-Modified-Since`);
      }
    }
    if (clientCond && entry !== undefined) {
      // The client's own validators beside a stored answer: the gateway may send its own or the
      // client's, and a 304 may answer either; which is not judged here, nor the store after.
      this.unknown.add(path);
      return;
    }
    this.afterForward(e, path, rep, step, req, asked, 'client', where, seen, fwdExpected);
  }

  /** What a forwarded GET or HEAD (or a background refresh) brings: the answer to the client, and the store after. */
  afterForward(
    e: Entry | undefined,
    path: string,
    rep: Rep,
    step: Extract<Step, { kind: 'read' }>,
    req: Record<string, string>,
    asked: Asked,
    who: 'client' | 'refresh',
    where: string,
    seen?: Seen,
    fwdExpected?: string,
  ) {
    const cs = seen === undefined ? undefined : cacheStatus(seen.headers['cache-status']);
    const said = `${where}: Cache-Status (${seen?.headers['cache-status']})`;
    const inm = asked.headers['if-none-match'];
    const ims = asked.headers['if-modified-since'];
    const answer = originAnswer(rep, asked.method, inm, ims);
    const clientCond = step.cond !== undefined;
    const isHead = step.method === 'HEAD';
    const auth = step.auth; // a refresh is made from the client's request, its fields too (docs)
    if (answer.status === 304 && e !== undefined && (who === 'refresh' || !clientCond)) {
      // The gateway's own validators: a 304 that names the stored answer freshens it (§4.3.4).
      const newTag = etagOf(rep);
      const oldTag = etagOf(e);
      const names =
        newTag !== undefined && oldTag !== undefined
          ? rep.val.etag === 'strong'
            ? newTag === oldTag
            : opaque(newTag) === opaque(oldTag)
          : newTag === undefined && oldTag === undefined && lmOf(rep) === lmOf(e);
      let given: Entry = e;
      if (names) {
        const spec = rep.spec;
        const mergedSpec = merged(e.spec, spec);
        const updated: Entry = {
          ...e,
          gen: answer.gen,
          spec: mergedSpec ?? e.spec,
          age0: ageAtArrival(mergedSpec ?? e.spec),
          at: Date.now(),
        };
        given = updated;
        if (mergedSpec === undefined) this.unknown.add(path);
        // A 304 that says no-store or private ends the answer's keeping (docs); one to an Authorization is not judged.
        if (mergedSpec === undefined) this.store.delete(path);
        else if (spec.noStore || spec.priv) this.store.delete(path);
        else if (spec.privateField || spec.noCacheField) this.unknown.add(path);
        else if (step.auth && !(spec.pub || spec.sMaxAge !== undefined || spec.mustRevalidate))
          this.unknown.add(path);
        else this.store.set(path, updated);
      }
      if (seen !== undefined) {
        assert.equal(cs?.get('fwd'), fwdExpected, said);
        assert.equal(cs?.has('hit'), false, said);
        assert.equal(cs?.get('fwd-status'), '304', `${where}: revalidated (${seen.headers['cache-status']})`);
        // A 304's Set-Cookie goes to the client whose request it answered, and is never stored (docs).
        this.expectStored(given, step, req, seen, where, rep.spec.setCookie ? `s=${answer.gen}` : undefined);
      }
      return;
    }
    // A full answer (or a 304 to the client's own conditionals, passed on).
    const failed = answer.status === 500 || answer.status === 503;
    if (failed && e !== undefined && who === 'client') {
      const { staleness } = ageOf(e);
      const window = Math.min(e.spec.sie ?? STALE_IF_ERROR_CAP, STALE_IF_ERROR_CAP);
      const clientRefuses =
        step.cc === 'no-cache' ||
        (step.cc?.startsWith('max-stale=') && staleness > Number(step.cc.slice('max-stale='.length)));
      // must-revalidate, proxy-revalidate and s-maxage bind a stale answer only (RFC 9111 §5.2.2.2): a fresh one stands in.
      const standsIn =
        !clientRefuses &&
        (ageOf(e).fresh || (!noCacheOf(e.spec) && !bindsRevalidation(e.spec) && staleness <= window));
      if (standsIn && seen !== undefined) {
        assert.ok(
          cs?.get('hit') === true,
          `${where}: stale-if-error stands in (${seen.headers['cache-status']})`,
        );
        // RFC 9211 §2.2: stale for a stale one; a fresh one the client's max-age=0 sent upstream is fwd=request.
        assert.equal(cs?.get('fwd'), ageOf(e).fresh ? 'request' : 'stale', said);
        assert.equal(cs?.get('fwd-status'), String(answer.status), `${where}: stale-if-error's fwd-status`);
        this.expectStored(e, step, req, seen, where);
        return;
      }
    }
    if (seen !== undefined) {
      assert.equal(cs?.get('fwd'), fwdExpected, said);
      assert.equal(cs?.has('hit'), false, said);
      assert.equal(seen.status, answer.status, `${where}: the origin's status`);
      if (!isHead) assert.equal(seen.text, answer.body, `${where}: the origin's body`);
      assert.equal(seen.headers['x-gen'], answer.gen, `${where}: the origin's fields`);
      assert.equal(
        seen.headers['set-cookie']?.[0],
        rep.spec.setCookie ? `s=${answer.gen}` : undefined,
        `${where}: Set-Cookie`,
      );
    }
    if (answer.status === 304) return; // the client's own conditional, answered by the origin: no change known
    if (asked.method === 'HEAD') {
      // §4.3.5: a HEAD's 200 speaks for the stored GET of its variant.
      // Its other answers that speak of the resource drop a stale stored one, as a GET's would (docs: "a HEAD has its GET's status").
      const speaks =
        (answer.status >= 200 && answer.status < 400) || answer.status === 404 || answer.status === 410;
      if (e !== undefined && answer.status !== 200 && speaks && !ageOf(e).fresh && !namesStored(rep, e))
        this.store.delete(path);
      if (e !== undefined && answer.status === 200) {
        const same = etagOf(rep) === etagOf(e) && lmOf(rep) === lmOf(e) && rep.version === e.version;
        const any = etagOf(rep) !== undefined || lmOf(rep) !== undefined;
        const mergedSpec = merged(e.spec, rep.spec);
        if (any && !same) this.store.delete(path);
        else if (any && same && mergedSpec === undefined) {
          this.store.delete(path);
          this.unknown.add(path);
        } else if (any && same && mergedSpec !== undefined)
          this.store.set(path, {
            ...e,
            gen: answer.gen,
            spec: mergedSpec,
            age0: ageAtArrival(mergedSpec),
            at: Date.now(),
          });
      }
      return;
    }
    const spec = rep.spec;
    if (this.storable(answer, spec, auth)) {
      const field = spec.vary;
      this.store.set(path, {
        status: answer.status,
        body: answer.body,
        gen: answer.gen,
        spec,
        val: rep.val,
        version: rep.version,
        age0: ageAtArrival(spec),
        at: Date.now(),
        varyValue: field === undefined || field === '*' ? undefined : req[field.toLowerCase()],
      });
      return;
    }
    // Not kept: an answer that speaks of the resource drops a stale stored one of its variant (docs, §4.3.3), a fresh one
    // stays, and so does one the answer names (its ETag, or its Last-Modified without one).
    const old = e;
    const speaks =
      (answer.status >= 200 && answer.status < 400) || answer.status === 404 || answer.status === 410;
    if (old !== undefined && speaks && !ageOf(old).fresh && !namesStored(rep, old)) this.store.delete(path);
  }

  /** The client got the stored answer `e` (or, to its own conditional, a 304 of it: RFC 9111 §4.3.2). */
  expectStored(
    e: Entry,
    step: Extract<Step, { kind: 'read' }>,
    sent: Record<string, string>,
    seen: Seen,
    where: string,
    cookie?: string,
  ) {
    let status: number | undefined = e.status;
    if (step.cond !== undefined && e.status === 200) {
      const tag = etagOf(e);
      const lm = lmOf(e);
      const inm = sent['if-none-match'];
      const ims = sent['if-modified-since'];
      if (inm !== undefined) status = tag !== undefined && opaque(inm) === opaque(tag) ? 304 : 200;
      else if (ims !== undefined)
        status = lm !== undefined ? (Date.parse(ims) >= Date.parse(lm) ? 304 : 200) : undefined; // by its Date: not judged here
    }
    if (status !== undefined) assert.equal(seen.status, status, `${where}: the stored answer's status`);
    if (seen.status !== 304) {
      if (step.method === 'GET') assert.equal(seen.text, e.body, `${where}: the stored body`);
      else assert.equal(seen.text, '', `${where}: a HEAD has no body`);
    }
    // A 304 carries the fields the docs list (ETag, Date, Cache-Control, Expires, Vary, …), not X-Gen (RFC 9110 §15.4.5).
    if (seen.status !== 304)
      assert.equal(seen.headers['x-gen'], e.gen, `${where}: the stored fields' generation`);
    assert.equal(
      seen.headers['set-cookie']?.[0],
      cookie,
      `${where}: a stored answer sets no cookie (but the 304's to its own client)`,
    );
  }

  write(path: string, status: number, seen: Seen, where: string) {
    assert.equal(seen.asked.length, 1, `${where}: an unsafe method goes upstream`);
    assert.equal(seen.status, status, `${where}: the origin's status`);
    const cs = cacheStatus(seen.headers['cache-status']);
    assert.equal(
      cs?.get('fwd'),
      'method',
      `${where}: Cache-Status fwd=method (${seen.headers['cache-status']})`,
    );
    if (status < 400) {
      this.store.delete(path);
      this.unknown.delete(path);
    }
  }
}

/** The origin: answers each URL as the scenario says, and records what reached it. */
async function startOrigin(reps: Map<string, Rep>, asked: Asked[], writes: Map<string, number>) {
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    asked.push({ method: req.method ?? '', path, headers: req.headers });
    req.resume();
    req.on('end', () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(writes.get(path) ?? 200, { 'Content-Length': '0' });
        res.end();
        return;
      }
      const rep = reps.get(path);
      if (rep === undefined) {
        res.writeHead(404, { 'Cache-Control': 'no-store', 'Content-Length': '0' });
        res.end();
        return;
      }
      const a = originAnswer(rep, req.method, req.headers['if-none-match'], req.headers['if-modified-since']);
      res.sendDate = false;
      res.writeHead(a.status, a.fields.flat());
      res.end(req.method === 'HEAD' ? undefined : a.body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const URLS = ['a', 'b', 'c'];

async function runScenario(
  gw: TestGateway,
  origin: { reps: Map<string, Rep>; asked: Asked[]; writes: Map<string, number> },
  sc: Scenario,
  run: number,
) {
  const reps = origin.reps;
  const pathOf = (u: number) => `/pages/r${run}/${URLS[u]}`;
  for (let u = 0; u < URLS.length; u++)
    reps.set(pathOf(u), { spec: sc.specs[u], val: sc.validators[u], version: 1, gen: 0, name: URLS[u] });
  const model = new Model(reps);
  const refreshLines = () => gw.logs.filter((l) => l.background === 'refresh').length;
  for (const [i, step] of sc.steps.entries()) {
    const path = pathOf(step.url);
    const where = `step ${i} (${JSON.stringify(step)})`;
    const rep = reps.get(path) as Rep;
    if (step.kind === 'change') {
      reps.set(path, {
        ...rep,
        spec: step.spec,
        version: step.newVersion ? rep.version + 1 : rep.version,
        gen: step.newVersion ? 0 : rep.gen + 1,
      });
      continue;
    }
    const before = origin.asked.length;
    const refreshesBefore = refreshLines();
    if (step.kind === 'write') {
      origin.writes.set(path, step.status);
      const res = await request(gw.url, { method: step.method, path, body: 'x', timeoutMs: 5000 });
      model.write(path, step.status, { ...res, asked: origin.asked.slice(before) }, where);
      continue;
    }
    const headers: Record<string, string> = {};
    if (step.cc) headers['cache-control'] = step.cc;
    if (step.ae) headers['accept-encoding'] = step.ae;
    if (step.al) headers['accept-language'] = step.al;
    if (step.auth) headers.authorization = 'Bearer someone';
    if (step.cond === 'inm-current') headers['if-none-match'] = etagOf(rep) ?? '"none"';
    if (step.cond === 'inm-other') headers['if-none-match'] = '"zzz"';
    if (step.cond === 'ims-current')
      headers['if-modified-since'] = new Date(lmSeconds(rep.version) * 1000).toUTCString();
    if (step.cond === 'ims-old')
      headers['if-modified-since'] = new Date((EPOCH - 30 * DAY) * 1000).toUTCString();
    const res = await request(gw.url, { method: step.method, path, headers, timeoutMs: 5000 });
    // A stale-while-revalidate answer's refresh: wait for its line (bounded) before the next step.
    if (
      String(res.headers['cache-status']).includes('fwd=stale') &&
      String(res.headers['cache-status']).includes('hit')
    ) {
      const until = Date.now() + 2000;
      while (refreshLines() === refreshesBefore && origin.asked.length === before && Date.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      const more = Date.now() + 2000;
      while (refreshLines() === refreshesBefore && Date.now() < more)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 20));
    }
    model.read(step, path, headers, { ...res, asked: origin.asked.slice(before) }, where);
  }
}

const oneIn = (n: number) => fc.integer({ min: 0, max: n - 1 }).map((k) => k === n - 1);
const maybe = <T>(arb: fc.Arbitrary<T>, n = 3) =>
  fc.tuple(oneIn(n), arb).map(([yes, v]) => (yes ? v : undefined));

const SPEC: fc.Arbitrary<Spec> = fc.record({
  status: fc.constantFrom<Status>(200, 200, 200, 200, 203, 204, 301, 404, 405, 410, 500, 503),
  maxAge: fc.constantFrom<Spec['maxAge']>(undefined, 0, 600, 100_000, 100_000),
  sMaxAge: maybe(fc.constantFrom<0 | 100_000>(0, 100_000), 6),
  noStore: oneIn(8),
  noCache: oneIn(8),
  priv: oneIn(8),
  pub: oneIn(6),
  mustRevalidate: oneIn(8),
  proxyRevalidate: oneIn(10),
  swr: maybe(fc.constantFrom<60 | 100_000>(60, 100_000), 4),
  sie: maybe(fc.constantFrom<60 | 100_000>(60, 100_000), 5),
  noCacheField: oneIn(12),
  privateField: oneIn(12),
  expires: maybe(fc.constantFrom<'past' | 'future' | 'zero'>('past', 'future', 'zero'), 4),
  date: fc.constantFrom<Spec['date']>('now', 'now', 'absent', 'past', 'future'),
  age: maybe(fc.constantFrom<0 | 3000>(0, 3000), 4),
  vary: maybe(
    fc.constantFrom<'Accept-Encoding' | 'Accept-Language' | '*'>('Accept-Encoding', 'Accept-Language', '*'),
    4,
  ),
  setCookie: oneIn(10),
});

const VALIDATORS: fc.Arbitrary<Validators> = fc.record({
  etag: fc.constantFrom<Validators['etag']>(undefined, 'strong', 'weak'),
  lastModified: fc.boolean(),
});

const STEP: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      method: fc.constantFrom<'GET' | 'HEAD'>('GET', 'GET', 'GET', 'HEAD'),
      url: fc.integer({ min: 0, max: 2 }),
      cc: maybe(
        fc.constantFrom<ReqCc>(
          'no-cache',
          'max-age=0',
          'only-if-cached',
          'max-stale',
          'max-stale=60',
          'max-stale=100000',
        ),
        4,
      ),
      cond: maybe(fc.constantFrom<Cond>('inm-current', 'inm-other', 'ims-current', 'ims-old'), 6),
      ae: maybe(fc.constantFrom<'gzip' | 'br'>('gzip', 'br'), 3),
      al: maybe(fc.constantFrom<'en' | 'fr'>('en', 'fr'), 3),
      auth: oneIn(8),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      method: fc.constantFrom<'POST' | 'PUT' | 'DELETE'>('POST', 'PUT', 'DELETE'),
      url: fc.integer({ min: 0, max: 2 }),
      status: fc.constantFrom<200 | 204 | 404 | 500>(200, 204, 404, 500),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('change' as const),
      url: fc.integer({ min: 0, max: 2 }),
      spec: SPEC,
      newVersion: fc.boolean(),
    }),
  },
);

const SCENARIO: fc.Arbitrary<Scenario> = fc.record({
  validators: fc.array(VALIDATORS, { minLength: 3, maxLength: 3 }),
  specs: fc.array(SPEC, { minLength: 3, maxLength: 3 }),
  steps: fc.array(STEP, { minLength: 10, maxLength: 40 }),
});

test('the shared cache does what RFC 9111 and the docs say, request by request, over fuzzed origins and sequences', async (t) => {
  const reps = new Map<string, Rep>();
  const asked: Asked[] = [];
  const writes = new Map<string, number>();
  const server = await startOrigin(reps, asked, writes);
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const gw = await startTestGateway(`name: edge-1
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: http://127.0.0.1:${port}
`);
  t.after(() => gw.close());
  let run = 0;
  await fc.assert(
    fc.asyncProperty(SCENARIO, async (sc) => {
      await runScenario(gw, { reps, asked, writes }, sc, run++);
    }),
    { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 40_000 * FACTOR, markInterruptAsFailure: false },
  );
});
