/**
 * What `candor explain` says of a failure by who made its answer, not by its type alone: the
 * failure table's words are of an upstream, and a static route's 404 told as "no route matches"
 * or a file cut mid-send as "the upstream is crashing" sent the operator to the wrong place. A
 * case (tally.ts caseOf) is a variant of the type (its own words, variants.ts), or the maker of
 * an answer no upstream made (log-record.ts Maker), or '' (an upstream's: the table's words).
 */
import { FAILURES, type FailureType, type Shape } from '../../core/failure/taxonomy.ts';
import { VARIANTS, type VariantName } from '../../core/failure/variants.ts';
import { firstCheck } from './denials.ts';
import { LIMIT_CASE } from './log-record.ts';

/** A type's case, as the report's rows and checks are made of. */
export interface CaseRow {
  readonly type: FailureType;
  readonly case: string;
  readonly count: number;
  readonly loggedStatuses: ReadonlyArray<{ readonly status: number }>;
  readonly upstreams: ReadonlyArray<{ readonly upstream: string; readonly count: number }>;
}

const isVariant = (kase: string): kase is VariantName => Object.hasOwn(VARIANTS, kase);

/** The cases made at the route's auth hop. */
const AT_AUTH_HOP = new Set(['auth-hop', 'unusable_answer']);

/** The likely cause of a case: the variant's words, the maker's, or the failure table's. */
export function caseLikely(type: FailureType, kase: string): string {
  if (kase === 'unusable_answer')
    return "the route's auth hop, not its upstream: it answered in HTTP, but not with an answer the gateway can use";
  if (isVariant(kase)) return VARIANTS[kase].explanation;
  if (kase === 'auth-hop')
    return `the route's auth hop (its forward-auth service or JWKS endpoint), not its upstream: ${FAILURES[type].explanation}`;
  if (kase === 'plugin' && type === 'proxy_internal_error')
    return 'a plugin threw or overran its time in a hook';
  if (kase === LIMIT_CASE) return "the proxy's own rate or connection limit refused the client";
  return FAILURES[type].explanation;
}

/** What to check first for a case. */
export function caseCheck(row: CaseRow): string {
  const kase = row.case;
  if (isVariant(kase)) return VARIANTS[kase].fix;
  // Whatever status it was logged with (nginx's limit_req and limit_conn answer 503 unless
  // limit_req_status says otherwise), a limit is waited out: no deny rule to look for.
  if (kase === LIMIT_CASE)
    return `The proxy's own rate or connection limit refused these requests (nginx's limit_req or limit_conn, its error log's "limiting requests" or "limiting connections"; logged as ${statusList(row)}): the clients sent more than it allows, and waiting lets them through. If this is legitimate traffic, raise the limit (the zone's rate, burst); to have clients back off, answer 429 (limit_req_status 429, limit_conn_status 429).`;
  const check = firstCheck(row);
  if (kase === 'auth-hop')
    return `The route's auth hop failed, not its upstream (which was never asked); at its forward-auth service or JWKS endpoint (the route's auth): ${check}`;
  return check;
}

/**
 * A shape's headline when every case of its row was made in one place that is no upstream
 * (the route's files, its auth hop, the session store, a plugin); undefined: the shape's own.
 */
export function makersHeadline(shape: Shape, cases: readonly CaseRow[]): string | undefined {
  const places = new Set(cases.map((c) => placeGroup(c.case)));
  if (places.size !== 1) return undefined;
  const [place] = places;
  if (place === 'files') return "the route's own files (a static route), no upstream";
  if (place === 'auth') return "the route's auth hop failed, not its upstream";
  if (place === 'store') return 'the session store failed, not the upstream';
  if (place === 'plugin' && shape === 'internal') return "a plugin's bug";
  return undefined;
}

function placeGroup(kase: string): string {
  if (AT_AUTH_HOP.has(kase)) return 'auth';
  if (kase === 'session_store_unavailable') return 'store';
  if (kase === 'own_file_cut' || kase.startsWith('static_file_')) return 'files';
  return kase;
}

/** A row's logged statuses, as a check names them ("503", "503, 429"). */
function statusList(row: CaseRow): string {
  return row.loggedStatuses.map((s) => s.status).join(', ');
}
