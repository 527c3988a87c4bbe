import { grpcStatusText } from '../../core/failure/grpc-codes.ts';
import { FAILURES, type FailureType, type Shape } from '../../core/failure/taxonomy.ts';
import { type CaseRow, caseCheck, caseLikely, makersHeadline } from './case-words.ts';
import { answeredStatuses } from './denials.ts';
import type { Deploy } from './deploys.ts';
import { READERS } from './detect-format.ts';
import { type HealthSummary, healthNear, healthSummary, type StormHealth } from './health-report.ts';
import type { LogReader } from './log-reader.ts';
import { type FiveXxSplit, LIMIT_CASE } from './log-record.ts';
import type { FileRead } from './read-logs.ts';
import type { RefusalRow } from './refusal-tally.ts';
import { iso, reportNotes } from './report-notes.ts';
import { type Change, findStorms } from './storms.ts';
import { isClientsDoing, type PlaceTally, type Tally } from './tally.ts';
import { adviseTimeout, type TimeoutFinding } from './timeout-advice.ts';

/** The four shapes and their four fixes (seeds: "the four shapes a 502 actually takes"), then the rest. */
const SHAPE_HEADLINES: Readonly<Record<Shape, string>> = {
  unreachable: 'the upstream is not there',
  slow: 'the upstream is too slow',
  reset: 'the upstream is crashing',
  garbage: 'something else is on that port',
  gateway: 'the gateway answered on its own',
  client: "the clients' own doing",
  internal: 'a bug in the gateway',
};
const SHAPE_ORDER = Object.keys(SHAPE_HEADLINES) as Shape[];

interface TypeRow {
  readonly type: FailureType;
  /** The status RFC 9209 recommends (the failure table's; a refusal's is a rate limit's 429). */
  readonly status: number;
  /** What Candor answers it with (denials.ts): the table's status, or a refusal's as logged (401, 403, 429). */
  readonly answered: readonly number[];
  readonly count: number;
  readonly requests: number;
  readonly attempts: number;
  /** Statuses the logs show for it (HAProxy answers 503 where Candor answers 502, say). */
  readonly loggedStatuses: ReadonlyArray<{ status: number; count: number }>;
  /** gRPC statuses its Trailers-Only answers carried (Candor's `grpc_status`), when any. */
  readonly grpcStatuses: ReadonlyArray<{ status: number; count: number }>;
  readonly upstreams: ReadonlyArray<{ upstream: string; count: number }>;
  /**
   * Its cases by who made the answer (case-words.ts): a variant's name, a maker's (`auth-hop`,
   * `plugin`, `gateway`), or '' (an upstream's, or a log that does not say), each with its places.
   */
  readonly cases: ReadonlyArray<{
    case: string;
    count: number;
    upstreams: ReadonlyArray<{ upstream: string; count: number }>;
  }>;
}

interface ShapeRow {
  readonly shape: Shape;
  readonly headline: string;
  readonly count: number;
  readonly types: readonly TypeRow[];
  /** The likely cause and the first thing to check: those of its most frequent case of a type (who made the answer). */
  readonly likelyCause: string;
  readonly firstCheck: string;
  /** The shape's other cases whose check is not the first's: each its own, and where it failed. */
  readonly alsoCheck: ReadonlyArray<{
    readonly type: string;
    /** The case of the type (see TypeRow.cases); '' for the failure table's own. */
    readonly case: string;
    readonly count: number;
    readonly upstreams: readonly string[];
    readonly check: string;
  }>;
}

export interface PlaceRow {
  readonly name: string;
  readonly requests: number;
  readonly errors5xx: number;
  readonly failures: number;
  readonly first5xx?: string;
  readonly last5xx?: string;
  readonly topType?: string;
}

export interface StormRow {
  readonly upstream: string;
  readonly began: string;
  readonly ended: string;
  readonly seconds: number;
  readonly errors: number;
  readonly requests: number;
  readonly peakPerSecond: number;
  readonly baselinePerSecond: number;
  readonly types: ReadonlyArray<{ type: string; count: number }>;
  /**
   * The nearest change before the storm began (a deploy of --deploys, or a change the gateway
   * logged), and how long before; absent: no change precedes it.
   */
  readonly afterChange?: ChangeRow & { readonly seconds: number };
  /** Changes made while it lasted. */
  readonly changesDuring: readonly ChangeRow[];
  /** The rollback that undid afterChange (a canary's), `seconds` after it: nothing left to undo. */
  readonly undoneBy?: ChangeRow & { readonly seconds: number };
  /** The proxy's health lines about this upstream around the storm (HAProxy's "is DOWN"). */
  readonly health: readonly StormHealth[];
}

interface ChangeRow {
  readonly label: string;
  readonly at: string;
  readonly source: Change['source'];
  /** A worker of the gateway died (its `worker` event line): nothing to undo. */
  readonly workerDeath?: true;
}

/** Requests over one protocol, from the lines that name it (Candor's `protocol`). */
interface ProtocolRow {
  readonly protocol: string;
  readonly requests: number;
  readonly errors5xx: number;
  readonly failures: number;
}

/** gRPC requests whose client read one status: the gateway's Trailers-Only answer, or the upstream's own. */
interface GrpcRow {
  readonly status: number;
  /** "14 UNAVAILABLE". */
  readonly name: string;
  readonly requests: number;
  readonly byProxy: number;
  readonly byUpstream: number;
}

export interface Report {
  readonly files: readonly FileRead[];
  readonly from?: string;
  readonly to?: string;
  readonly requests: number;
  /** Failed attempts with no request line of their own (retried, or only in an error log). */
  readonly failedAttempts: number;
  readonly statuses: ReadonlyArray<{ status: number; count: number }>;
  readonly shapes: readonly ShapeRow[];
  /** Who produced the 5xx, over every file (each file's own split is in `files`). */
  readonly errors5xx: FiveXxSplit;
  /** 5xx the upstream sent itself, passed through (no failure). */
  readonly upstreamOwn5xx: number;
  /** The upstream's own 5xx no client saw: a stored answer went in its place (also in staleAnswers). */
  readonly upstreamOwn5xxStale: number;
  /**
   * Stored answers that went to the client in place of a failure (a 200), by what they stood in
   * for: the failure's type, or `upstream_503` (`_500`…) for the upstream's own status.
   */
  readonly staleAnswers: ReadonlyArray<{ cause: string; count: number }>;
  /** 5xx a plugin answered itself (Candor's `answered_by`), by plugin: neither the upstream's nor a failure. */
  readonly pluginOwn5xx: ReadonlyArray<{ plugin: string; count: number }>;
  /** 5xx with no failure that the upstream is not known to have sent (an nginx access log without its error log). */
  readonly unexplained5xx: number;
  /** Requests whose line names an error type this version does not know (a log of another version), by type. */
  readonly unknownTypes: ReadonlyArray<{ type: string; count: number }>;
  /** Retried attempts the log counts without naming their failure (Traefik's RetryAttempts). */
  readonly untypedRetries: number;
  readonly clientAborted: number;
  /** Of clientAborted, the clients that left while the answer's body streamed (its status sent). */
  readonly clientAbortedMidAnswer: number;
  /** Requests read from a format that writes no time: counted, in no storm (storms need times). */
  readonly untimed: number;
  readonly upstreams: readonly PlaceRow[];
  readonly targets: readonly PlaceRow[];
  /** Requests by protocol, when the lines name it (empty otherwise). */
  readonly protocols: readonly ProtocolRow[];
  /** gRPC requests by the status their client read (empty when no line carries one). */
  readonly grpc: readonly GrpcRow[];
  /** 401s and 403s by route and method (empty when the logs have none). */
  readonly refusals: readonly RefusalRow[];
  readonly bucketSeconds: number;
  readonly storms: readonly StormRow[];
  readonly timeouts: readonly TimeoutFinding[];
  /** Server state changes the proxy logged (HAProxy's own lines). */
  readonly health: HealthSummary;
  /** What the formats read cannot tell. */
  readonly notes: readonly string[];
}

const sortedCounts = <K>(map: ReadonlyMap<K, number>) => [...map].sort((a, b) => b[1] - a[1]);

function placeRows(map: ReadonlyMap<string, PlaceTally>): PlaceRow[] {
  return [...map]
    .map(([name, p]) => ({
      name,
      requests: p.requests,
      errors5xx: p.errors5xx,
      failures: p.failures,
      first5xx: Number.isFinite(p.first5xx) ? iso(p.first5xx) : undefined,
      last5xx: Number.isFinite(p.last5xx) ? iso(p.last5xx) : undefined,
      topType: sortedCounts(p.types)[0]?.[0],
    }))
    .sort((a, b) => b.errors5xx + b.failures - (a.errors5xx + a.failures) || b.requests - a.requests);
}

function shapeRows(tally: Tally): ShapeRow[] {
  const rows: ShapeRow[] = [];
  for (const shape of SHAPE_ORDER) {
    const types: TypeRow[] = [];
    for (const [type, t] of tally.byType) {
      // A client that left or whose own deadline passed is told with the clients' doings, never
      // as an upstream's shape (its deadline is no upstream's slowness: the gateway judges no target by it).
      if ((isClientsDoing(type) ? 'client' : FAILURES[type].shape) !== shape) continue;
      const loggedStatuses = [...t.statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([status, count]) => ({ status, count }));
      types.push({
        type,
        status: FAILURES[type].status,
        answered: answeredStatuses(
          type,
          loggedStatuses,
          t.cases.size > 0 && [...t.cases.keys()].every((kase) => kase === LIMIT_CASE),
        ),
        count: t.requests + t.attempts,
        requests: t.requests,
        attempts: t.attempts,
        loggedStatuses,
        grpcStatuses: [...t.grpcStatuses]
          .sort((a, b) => a[0] - b[0])
          .map(([status, count]) => ({ status, count })),
        upstreams: sortedCounts(t.upstreams).map(([upstream, count]) => ({ upstream, count })),
        cases: [...t.cases]
          .sort((a, b) => b[1].count - a[1].count)
          .map(([kase, c]) => ({
            case: kase,
            count: c.count,
            upstreams: sortedCounts(c.places).map(([upstream, count]) => ({ upstream, count })),
          })),
      });
    }
    if (types.length === 0) continue;
    types.sort((a, b) => b.count - a.count);
    // Advice is by case, not by type: who made the answer decides what it means and what to do.
    const cases: CaseRow[] = types
      .flatMap((t) =>
        t.cases.map((c) => ({
          type: t.type,
          case: c.case,
          count: c.count,
          loggedStatuses: t.loggedStatuses,
          upstreams: c.upstreams,
        })),
      )
      .sort((a, b) => b.count - a.count);
    const main = cases[0];
    const mainCheck = caseCheck(main);
    const alsoCheck = cases
      .slice(1)
      .map((c) => ({
        type: c.type,
        case: c.case,
        count: c.count,
        upstreams: c.upstreams.map((u) => u.upstream),
        check: caseCheck(c),
      }))
      .filter((c) => c.check !== mainCheck);
    rows.push({
      shape,
      headline: makersHeadline(shape, cases) ?? SHAPE_HEADLINES[shape],
      count: types.reduce((sum, t) => sum + t.count, 0),
      types,
      likelyCause: caseLikely(main.type, main.case),
      firstCheck: mainCheck,
      alsoCheck,
    });
  }
  return rows;
}

/** A change as a storm's row names it: `seconds` (its `ms`) before the storm, or after the change it undid. */
function changeRow(c: Change & { readonly ms: number }): ChangeRow & { readonly seconds: number } {
  return { ...changeOnly(c), seconds: Math.round(c.ms) / 1000 };
}

function changeOnly(c: Change): ChangeRow {
  return {
    label: c.label,
    at: iso(c.at),
    source: c.source,
    ...(c.workerDeath === undefined ? {} : { workerDeath: c.workerDeath }),
  };
}

/**
 * Turns what was read into the report: counts, storms, timeouts and what to check first.
 * `readers`: those the files were read with (their blind spots become the notes).
 */
export function buildReport(
  tally: Tally,
  files: readonly FileRead[],
  deploys: readonly Deploy[],
  readers: readonly LogReader[] = READERS,
): Report {
  const bucketMs = tally.storms.settle();
  const storms = stormRows(tally, deploys);
  const timeouts: TimeoutFinding[] = [];
  for (const [name, upstream] of tally.byUpstream) {
    const finding = adviseTimeout(name, upstream);
    if (finding) timeouts.push(finding);
  }
  const notes = reportNotes(tally, files, readers);
  const from = tally.storms.from;
  return {
    files,
    from: Number.isFinite(from) ? iso(from) : undefined,
    to: Number.isFinite(tally.storms.to) ? iso(tally.storms.to) : undefined,
    requests: tally.requests,
    failedAttempts: tally.attempts,
    statuses: [...tally.byStatus].sort((a, b) => a[0] - b[0]).map(([status, count]) => ({ status, count })),
    shapes: shapeRows(tally),
    errors5xx: { ...tally.errors5xx },
    upstreamOwn5xx: tally.upstreamOwn5xx,
    upstreamOwn5xxStale: tally.upstreamOwn5xxStale,
    staleAnswers: sortedCounts(tally.staleAnswers).map(([cause, count]) => ({ cause, count })),
    pluginOwn5xx: sortedCounts(tally.pluginOwn5xx).map(([plugin, count]) => ({ plugin, count })),
    unexplained5xx: tally.unexplained5xx,
    unknownTypes: sortedCounts(tally.unknownTypes).map(([type, count]) => ({ type, count })),
    untypedRetries: tally.untypedRetries,
    clientAborted: tally.clientAborted,
    clientAbortedMidAnswer: tally.clientAbortedMidAnswer,
    untimed: tally.untimed,
    upstreams: placeRows(tally.byUpstream),
    targets: placeRows(tally.byTarget),
    protocols: [...tally.byProtocol]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([protocol, p]) => ({ protocol, ...p })),
    grpc: [...tally.byGrpcStatus]
      .sort((a, b) => a[0] - b[0])
      .map(([status, g]) => ({ status, name: grpcStatusText(status), ...g })),
    refusals: tally.refusals.rows(),
    bucketSeconds: bucketMs / 1000,
    storms,
    timeouts: timeouts.sort((a, b) => b.timeouts - a.timeouts),
    health: healthSummary(tally),
    notes,
  };
}

/** The storms found in the tally, each placed against the deploys and the logs' own changes near it. */
function stormRows(tally: Tally, deploys: readonly Deploy[]): StormRow[] {
  const changes: Change[] = [
    ...deploys.map((d) => ({ ...d, source: 'deploys' as const })),
    ...tally.changes.map((c) => ({
      at: c.time,
      label: c.label,
      source: 'log' as const,
      canary: c.canary,
      workerDeath: c.workerDeath,
    })),
  ];
  return findStorms(tally.storms, changes).map(
    (s): StormRow => ({
      upstream: s.upstream,
      began: iso(s.began),
      ended: iso(s.ended),
      seconds: Math.round(s.ended - s.began) / 1000,
      errors: s.errors,
      requests: s.requests,
      peakPerSecond: s.peakPerSecond,
      baselinePerSecond: s.baselinePerSecond,
      types: s.types.map(([type, count]) => ({ type, count })),
      afterChange: s.afterChange && changeRow(s.afterChange),
      changesDuring: s.changesDuring.map(changeOnly),
      ...(s.undoneBy === undefined ? {} : { undoneBy: changeRow(s.undoneBy) }),
      health: healthNear(tally.health, s.upstream, s.began, s.ended),
    }),
  );
}
