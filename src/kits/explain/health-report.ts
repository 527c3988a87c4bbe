import type { HealthEvent } from './log-record.ts';
import type { Tally } from './tally.ts';

/** A storm lists the health events of its upstream from this long before it began … */
const LEAD_MS = 60_000;
/** … to this long after its last 5xx (the server coming back UP that ended it). */
const TAIL_MS = 10_000;
/** At most this many per storm (the first ones: how it started). */
const PER_STORM = 20;

/** One kind of health change of one server (or backend), counted. */
interface HealthRow {
  /** "be_app/s1" for a server, "be_app" for a backend with no server left. */
  readonly name: string;
  readonly state: HealthEvent['state'];
  readonly reason?: string;
  readonly failure?: string;
  readonly count: number;
  /** When it first and last happened; absent for lines with no time (told in reading order). */
  readonly first?: string;
  readonly last?: string;
}

export interface HealthSummary {
  /** Health events read (the rows count the first HEALTH_EVENTS_KEPT of them). */
  readonly events: number;
  readonly changes: readonly HealthRow[];
  /**
   * Backends the proxy said had no server left, with how many times: a failure whatever the
   * access lines say (a backend nobody asked for while it had none still had none).
   */
  readonly noServer: ReadonlyArray<{ readonly upstream: string; readonly count: number }>;
  /** Upstreams whose circuit Candor's lines say opened, with how many times: a failure too. */
  readonly circuitOpen: ReadonlyArray<{ readonly upstream: string; readonly count: number }>;
}

/** A health event near a storm, placed relative to its first 5xx. */
export interface StormHealth {
  readonly at: string;
  readonly name: string;
  readonly state: HealthEvent['state'];
  readonly reason?: string;
  readonly failure?: string;
  /** Seconds from the storm's first 5xx: negative before it. */
  readonly offsetSeconds: number;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNone = (ms: number) => (Number.isNaN(ms) ? undefined : iso(ms));
const nameOf = (event: HealthEvent) => event.target ?? event.upstream ?? '-';

/** The health changes, one row per server, state and reason, in the order they first happened. */
export function healthSummary(tally: Tally): HealthSummary {
  const rows = new Map<string, { event: HealthEvent; count: number; first: number; last: number }>();
  for (const event of tally.health) {
    const key = `${nameOf(event)}\u0000${event.state}\u0000${event.reason ?? ''}`;
    const row = rows.get(key);
    if (row === undefined) rows.set(key, { event, count: 1, first: event.time, last: event.time });
    else {
      row.count++;
      // A line with no time (NaN) does not move them: a row is dated by the lines that have one.
      if (!Number.isNaN(event.time)) {
        row.first = Number.isNaN(row.first) ? event.time : Math.min(row.first, event.time);
        row.last = Number.isNaN(row.last) ? event.time : Math.max(row.last, event.time);
      }
    }
  }
  const all = [...rows.values()];
  // Lines without a time are told in the order they were read (the proxy's own order).
  if (all.every((row) => !Number.isNaN(row.first))) all.sort((a, b) => a.first - b.first);
  const changes = all.map(({ event, count, first, last }) => ({
    name: nameOf(event),
    state: event.state,
    reason: event.reason,
    failure: event.failure,
    count,
    first: isoOrNone(first),
    last: isoOrNone(last),
  }));
  const times = (state: HealthEvent['state']) => {
    const by = new Map<string, number>();
    for (const row of changes) if (row.state === state) by.set(row.name, (by.get(row.name) ?? 0) + row.count);
    return [...by].map(([upstream, count]) => ({ upstream, count }));
  };
  return {
    events: tally.healthEvents,
    changes,
    noServer: times('no-server'),
    circuitOpen: times('circuit-open'),
  };
}

/** The health events of `upstream` from a minute before a storm to shortly after it. */
export function healthNear(
  events: readonly HealthEvent[],
  upstream: string,
  began: number,
  ended: number,
): StormHealth[] {
  return events
    .filter((e) => e.upstream === upstream && e.time >= began - LEAD_MS && e.time <= ended + TAIL_MS)
    .sort((a, b) => a.time - b.time)
    .slice(0, PER_STORM)
    .map((e) => ({
      at: iso(e.time),
      name: nameOf(e),
      state: e.state,
      reason: e.reason,
      failure: e.failure,
      offsetSeconds: Math.round(e.time - began) / 1000,
    }));
}
