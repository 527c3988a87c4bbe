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
  readonly first: string;
  readonly last: string;
}

export interface HealthSummary {
  /** Health events read (the rows count the first HEALTH_EVENTS_KEPT of them). */
  readonly events: number;
  readonly changes: readonly HealthRow[];
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
      row.first = Math.min(row.first, event.time);
      row.last = Math.max(row.last, event.time);
    }
  }
  const changes = [...rows.values()]
    .sort((a, b) => a.first - b.first)
    .map(({ event, count, first, last }) => ({
      name: nameOf(event),
      state: event.state,
      reason: event.reason,
      failure: event.failure,
      count,
      first: iso(first),
      last: iso(last),
    }));
  return { events: tally.healthEvents, changes };
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
