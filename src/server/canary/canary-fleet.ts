import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisStoreConfig } from '../../core/config/types.ts';
import { openFleetRedis } from '../../core/net/fleet-redis.ts';
import { mergeWindows, type WindowCounts, windowOf } from '../../upstream/canary/canary-window.ts';

/**
 * Windows kept per route in Redis until the leader reads them (each about 3 KB: the counts and
 * two latency tallies): a leader gone for a while cannot fill Redis.
 */
const WINDOWS_KEPT = 256;

/**
 * The list the gateways add their windows to. Not `windows`, where gateways of an earlier release
 * added windows whose latency was a list of samples, not a tally: during a rolling upgrade the
 * lease holder judges the windows of the gateways of its own release and never misreads others'.
 */
const WINDOWS = 'counts';

/** The name the fleet's client gives itself (Redis's CLIENT LIST shows it). */
export const FLEET_CLIENT_NAME = 'candor-canary-fleet';

/** Where a canary is: moving, stopped by an operator or a verdict, or over. */
export type CanaryPhase = 'running' | 'paused' | 'rolled_back' | 'promoted' | 'held';

/** A canary's state as the fleet shares it: the leader's (or an operator's, on any gateway) latest. */
export interface FleetState {
  /**
   * The state's version: Redis raises it by one at each write (PUBLISH_SCRIPT), so the order of
   * the fleet's states is the order Redis took them in, whatever the gateways' clocks say.
   */
  readonly seq: number;
  /** The canary the state is of (a state of another canary is not adopted). */
  readonly canary: string;
  /**
   * Which version of that canary: a hash of its settings and its upstream's targets (absent in
   * states of earlier releases). A reload that ships new targets under the same upstream name
   * begins a canary anew, and does not join the old one's promotion.
   */
  readonly of?: string;
  readonly phase: CanaryPhase;
  readonly step: number;
  readonly share: number;
  readonly reason: string | null;
  readonly failedMetric: string | null;
}

/**
 * A canary judged for a fleet of gateways on one Redis (`store.redis`): each gateway adds its
 * window (its workers' counts, merged) to a list per route; one gateway, the holder of the
 * route's lease, takes the list, judges the fleet's counts and publishes the canary's state;
 * the others adopt it. A canary judged on one gateway's slice alone would flap, each gateway
 * deciding on a few requests; here one verdict holds for all.
 */
export class CanaryFleet {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly owner = randomBytes(12).toString('hex');

  private constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** ioredis comes with the first fleet (fleet-redis.ts). */
  static async open(config: RedisStoreConfig): Promise<CanaryFleet> {
    // Its errors are told by the failing calls, which the controller logs.
    const client = await openFleetRedis(config, FLEET_CLIENT_NAME);
    return new CanaryFleet(client, config.prefix);
  }

  /** Adds this gateway's window of the route for the leader to judge. */
  async share(route: string, window: WindowCounts, ttlMs: number): Promise<void> {
    const key = this.#key(route, WINDOWS);
    await this.#client
      .multi()
      .rpush(key, JSON.stringify(window))
      .ltrim(key, -WINDOWS_KEPT, -1)
      .pexpire(key, ttlMs)
      .exec();
  }

  /** Takes or keeps the route's lease for `ms`; true when this gateway holds it (it judges). */
  async lead(route: string, ms: number): Promise<boolean> {
    // Taken if free; renewed only by its holder, in one step (a lease that expired meanwhile is
    // not renewed); one held with no expiry or a longer one (another hand's) given this one's.
    return (
      (await this.#client.eval(LEAD_SCRIPT, 1, this.#key(route, 'leader'), this.owner, String(ms))) === 1
    );
  }

  /** The leader takes every gateway's windows added since it last took them, merged. */
  async take(route: string): Promise<WindowCounts | undefined> {
    const key = this.#key(route, WINDOWS);
    const result = await this.#client.multi().lrange(key, 0, -1).del(key).exec();
    const items = (result?.[0]?.[1] ?? []) as string[];
    // What another gateway wrote is read as data: a window that is not one is left out.
    const windows = items.flatMap((text) => {
      try {
        const window = windowOf(JSON.parse(text));
        return window === undefined ? [] : [window];
      } catch {
        return [];
      }
    });
    return windows.length === 0 ? undefined : mergeWindows(windows);
  }

  /**
   * Writes the route's state, version `base` + 1 (or the stored one's + 1, if higher), when the
   * stored state is still version `base` (the one this change was decided on) or `forced` (a
   * rollback: the safe side wins over whatever it did not see). Else nothing is written and the
   * stored state, newer than what the change was decided on, is returned for the caller to adopt.
   */
  async publish(
    route: string,
    state: Omit<FleetState, 'seq'>,
    change: { readonly base: number; readonly forced: boolean },
    ttlMs: number,
  ): Promise<{ written: number } | { moved: FleetState | undefined }> {
    const [written, value] = (await this.#client.eval(
      PUBLISH_SCRIPT,
      1,
      this.#key(route, 'state'),
      JSON.stringify(state),
      String(change.base),
      change.forced ? 'force' : 'cas',
      String(ttlMs),
    )) as [number, number | string];
    return written === 1 ? { written: Number(value) } : { moved: stateOf(String(value)) };
  }

  async read(route: string): Promise<FleetState | undefined> {
    const text = await this.#client.get(this.#key(route, 'state'));
    return text === null ? undefined : stateOf(text);
  }

  close(): void {
    this.#client.disconnect();
  }

  #key(route: string, what: string): string {
    return `${this.#prefix}canary:${route}:${what}`;
  }
}

const PHASES: readonly string[] = ['running', 'paused', 'rolled_back', 'promoted', 'held'];

/**
 * A state read from Redis, if it is one a gateway writes: whoever can write to the store may
 * have put anything there (`share: 150` gave every worker the weights 150 / −50, all traffic to
 * the canary at its 10 % step). The share is a percentage, the step an index (-1 before the
 * first; the run checks it against its steps, canary-shared-state.ts), the phase one of
 * CanaryPhase. PUBLISH_SCRIPT holds a stored state to the same rule, so one that is not a state
 * is written over as if none were there.
 */
export function stateOf(text: string): FleetState | undefined {
  let state: Partial<Record<keyof FleetState, unknown>> | null;
  try {
    state = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof state !== 'object' || state === null) return undefined;
  const { seq, canary, of, phase, step, share, reason, failedMetric } = state;
  const stringOrNull = (value: unknown) => value === null || typeof value === 'string';
  return Number.isSafeInteger(seq) &&
    (seq as number) > 0 &&
    typeof canary === 'string' &&
    (of === undefined || typeof of === 'string') &&
    typeof phase === 'string' &&
    PHASES.includes(phase) &&
    Number.isInteger(step) &&
    (step as number) >= -1 &&
    typeof share === 'number' &&
    share >= 0 &&
    share <= 100 &&
    stringOrNull(reason) &&
    stringOrNull(failedMetric)
    ? (state as FleetState)
    : undefined;
}

/**
 * KEYS[1] the state; ARGV: the state's JSON without its seq, the version it was decided on,
 * `force` or `cas`, the TTL (0: none, a verdict's). A stored state that is not one (unreadable, or a share, step or
 * phase stateOf refuses) stands for none. The
 * seq is written by hand (%d): cjson would print a version of 13 digits (an earlier release's
 * milliseconds) in exponent form.
 */
const PUBLISH_SCRIPT = `local stored = redis.call('GET', KEYS[1])
local seq = 0
local phases = {running = true, paused = true, rolled_back = true, promoted = true, held = true}
if stored then
  local ok, state = pcall(cjson.decode, stored)
  if ok and type(state) == 'table' and type(state.seq) == 'number' and type(state.share) == 'number'
    and state.share >= 0 and state.share <= 100 and type(state.step) == 'number' and state.step >= -1
    and state.step == math.floor(state.step) and type(state.phase) == 'string' and phases[state.phase]
  then seq = state.seq end
end
local base = tonumber(ARGV[2])
if ARGV[3] ~= 'force' and seq > 0 and seq ~= base then return {0, stored} end
local next = math.max(seq, base) + 1
local value = '{"seq":' .. string.format('%d', next) .. ',' .. string.sub(ARGV[1], 2)
if ARGV[4] == '0' then redis.call('SET', KEYS[1], value) else redis.call('SET', KEYS[1], value, 'PX', ARGV[4]) end
return {1, next}`;

/** KEYS[1] the lease; ARGV: this gateway, the lease's ms. 1 when this gateway holds it now. */
const LEAD_SCRIPT = `if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
