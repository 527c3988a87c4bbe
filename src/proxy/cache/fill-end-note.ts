import { Failure } from '../../core/failure/failure.ts';
import { FAILURES, type FailureType, type Stage } from '../../core/failure/taxonomy.ts';
import type { FillEnd } from './fill.ts';

/**
 * How a key's fetch failed, written for the other workers waiting on it (fill-lock.ts's
 * `….ended`): the gateway's failure (its type, details, status, stage, Retry-After), or the
 * upstream's own 5xx status a stored answer stood in for. They answer with it as a worker's own
 * waiting requests do (cache-run.ts's #woken), rather than a herd of tries at a failing upstream.
 * Or that its client left before the fetch was over (`lead`): the fetch was dropped with it, and
 * one of them takes the lock to fetch for the others, as one waiting in the leader's worker does.
 */
export function endNote(end: FillEnd | undefined): string | undefined {
  if (end === 'lead') return LEAD;
  if (typeof end === 'number') return JSON.stringify({ status: end });
  if (!(end instanceof Failure)) return undefined;
  const { type, details, status, stage, retryAfter, nextHop } = end;
  return JSON.stringify({ failure: { type, details, status, stage, retryAfter, nextHop } });
}

const LEAD = JSON.stringify({ lead: true });

/** The end a note says (endNote's); undefined for one that is not a note of ours. */
export function endOfNote(note: string): FillEnd | undefined {
  try {
    const read = JSON.parse(note) as { status?: unknown; failure?: Record<string, unknown>; lead?: unknown };
    if (read.lead === true) return 'lead';
    if (typeof read.status === 'number') return read.status;
    const failure = read.failure;
    if (failure === undefined || typeof failure.type !== 'string' || !Object.hasOwn(FAILURES, failure.type))
      return undefined;
    const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
    return new Failure(failure.type as FailureType, String(failure.details ?? ''), {
      status: number(failure.status),
      stage: typeof failure.stage === 'string' ? (failure.stage as Stage) : undefined,
      retryAfter: number(failure.retryAfter),
      nextHop: typeof failure.nextHop === 'string' ? failure.nextHop : undefined,
    });
  } catch {
    return undefined;
  }
}
