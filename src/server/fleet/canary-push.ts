/**
 * A config pushed as a canary (`candor config push FILE --canary N`): validated as any push,
 * then written beside the config key, not over it (canaryKey), with the N gateways that run it
 * (the first N live ones in name order, so the pusher, every gateway and `fleet status` read the
 * same list), how often it is looked at and how long it must hold. Every other gateway keeps
 * the revision under the config key, which nothing but the canary's promotion writes while it
 * runs (a plain push is refused meanwhile): the rest cannot take it before it is judged.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bootstrap } from '../../core/config/bootstrap-file.ts';
import { documentLabel } from '../../core/config/composed-config.ts';
import type { ConfigProblem } from '../../core/config/config-error.ts';
import type { Undecodable } from '../../core/config/utf8.ts';
import type { EtcdClient } from '../../upstream/config-source/etcd-client.ts';
import { refusedBy, unchangedCanary, validateDocument } from './config-push.ts';
import {
  type Canary,
  type CanaryRecord,
  canaryKey,
  canaryOf,
  type GatewayRecord,
  gatewaysPrefix,
  pushKey,
  readJson,
} from './fleet-keys.ts';

/** How a canary is judged, as the push names it. */
export interface CanaryPlan {
  /** Gateways that run it first. */
  readonly count: number;
  /** A look at the counts every `windowMs`; every gateway takes it once it held for `judgeForMs`. */
  readonly windowMs: number;
  readonly judgeForMs: number;
  /** Requests each side needs before a look decides anything. */
  readonly minRequests: number;
}

export type CanaryPushResult =
  | { readonly canary: Canary }
  | { readonly problems: readonly ConfigProblem[] }
  /** Pushed nothing: why, in a sentence (no config to compare with, too few gateways). */
  | { readonly refused: string }
  | ReturnType<typeof refusedBy>;

/** Writes `document` as a canary over the config key's revision `expected` (by default the one read now). */
export async function pushCanary(
  client: EtcdClient,
  bootstrap: Bootstrap,
  document: string,
  author: string,
  plan: CanaryPlan,
  options: { expected?: number; label?: string; undecodable?: Undecodable } = {},
): Promise<CanaryPushResult> {
  const { key } = bootstrap.etcd;
  const [main, current, records] = await Promise.all([
    client.range(key),
    client.range(canaryKey(key)),
    client.range(gatewaysPrefix(key), { prefix: true }),
  ]);
  const expected = options.expected ?? main.kvs[0]?.modRevision ?? 0;
  const running = canaryOf(current.kvs[0]);
  if (running?.phase === 'running') return { canaryRunning: running };
  if (expected === 0)
    return {
      refused: `${key} holds no config yet: a canary needs one to compare with (push the first without --canary)`,
    };
  const problems = validateDocument(
    document,
    bootstrap,
    options.label ?? documentLabel(key, expected + 1),
    options.undecodable,
  );
  if (problems.length > 0) return { problems };
  const live = records.kvs
    .map((kv) => readJson<GatewayRecord>(kv.value)?.name)
    .filter((name): name is string => typeof name === 'string')
    .sort();
  if (plan.count >= live.length)
    return {
      refused: `--canary ${plan.count} leaves no gateway to compare it with: ${live.length} live gateway(s) (${live.join(', ') || 'none'})`,
    };
  const record: CanaryRecord = {
    author,
    at: new Date().toISOString(),
    from: expected,
    document,
    gateways: live.slice(0, plan.count),
    window_ms: plan.windowMs,
    judge_for_ms: plan.judgeForMs,
    min_requests: plan.minRequests,
    phase: 'running',
    verdict: null,
  };
  const written = await client.putIf(
    [{ key, target: 'mod', equals: expected }, unchangedCanary(key, current.kvs[0]?.modRevision)],
    [{ key: canaryKey(key), value: JSON.stringify(record) }],
    [key, pushKey(key), canaryKey(key)],
  );
  if (written.succeeded)
    return { canary: { ...record, revision: written.revision, modRevision: written.revision } };
  return refusedBy(key, expected, written.read);
}

/**
 * The canary of `revision` once it ended (promoted or rolled back), read every half window;
 * undefined if `untilMs` passes first (the judging goes on without the pusher: fleet-canary.ts).
 */
export async function canaryVerdict(
  client: EtcdClient,
  key: string,
  canary: Canary,
  untilMs: number,
): Promise<Canary | undefined> {
  const every = Math.max(50, Math.min(canary.window_ms / 2, 1_000));
  while (Date.now() < untilMs) {
    const now = canaryOf((await client.range(canaryKey(key))).kvs[0]);
    if (now === undefined || now.revision !== canary.revision) return undefined;
    if (now.phase !== 'running') return now;
    await sleep(every);
  }
  return undefined;
}

/** A canary in one line: its revision, gateways, phase, and the verdict once there is one. */
export function canaryLine(canary: Canary, live?: number): string {
  const of = live === undefined ? '' : ` (${canary.gateways.length} of ${live} gateways)`;
  const head = `canary revision ${canary.revision} (over ${canary.from}) on ${canary.gateways.join(', ')}${of}, pushed by ${canary.author} at ${canary.at}`;
  if (canary.phase === 'running')
    return `${head}: running, judged every ${canary.window_ms} ms for ${canary.judge_for_ms} ms`;
  const state = canary.phase === 'promoted' ? 'PROMOTED' : 'ROLLED BACK';
  const look = canary.look === undefined ? '' : ` at look ${canary.look}/${canary.looks}`;
  return `${head}: ${state}${look}: ${canary.verdict ?? ''}`;
}
