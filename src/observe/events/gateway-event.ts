/**
 * The deploy timeline's vocabulary: every change that can start a storm, with the time it was
 * made (issue 36). A change is recorded once, by the process that makes it (the cluster primary
 * for reloads, admin calls, DNS answers, health checks and workers that died; a gateway run
 * in-process for its own), kept in a bounded ring (event-ring.ts), written to the log as a line `candor explain`
 * reads (timeline.ts), and served merged by the admin API's GET /events.
 *
 * Every event is plain JSON: it crosses the IPC channel and the admin API as is, and is read
 * back from a log line by `readEvent`, which trusts nothing in it.
 */
export type GatewayEvent =
  | ReloadEvent
  | AdminEvent
  | DiscoveryEvent
  | HealthEvent
  | CanaryEvent
  | WorkerEvent;

/** What each event has: its kind and when it was made (an ISO wall-clock time, as /status's). */
interface EventBase {
  readonly at: string;
}

/** The targets that joined and left an upstream's set (by URL). */
export interface TargetMoves {
  readonly joined: readonly string[];
  readonly left: readonly string[];
}

/** Names added, removed and changed between two configs. */
export interface NameChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/** A config reload swapped the running snapshot. */
export interface ReloadEvent extends EventBase {
  readonly kind: 'reload';
  readonly config_hash: string;
  /** Who asked: SIGHUP, the admin API, etcd (a fleet's push). */
  readonly via: string;
  /** A push taken from etcd: its revision and author. */
  readonly revision?: number;
  readonly author?: string;
  /** A rollback's push (`candor config rollback`): the revision whose document it wrote again. */
  readonly rollback_of?: number;
  /**
   * A revision that holds the document running already (pushed again, rolled back to): taken
   * without a reload, since nothing would change; in the timeline as every push is.
   */
  readonly same_document?: true;
  readonly routes: NameChanges;
  readonly upstreams: NameChanges;
  /** Of the upstreams changed, those whose written targets moved. */
  readonly targets: Readonly<Record<string, TargetMoves>>;
}

/** A change made through the admin API (the same shapes the API takes). */
export interface AdminEvent extends EventBase {
  readonly kind: 'admin';
  /** The caller (the admin API's `who`: a token's name, or "admin"). */
  readonly who: string;
  readonly change: AdminChange;
}

export type AdminChange =
  | {
      readonly kind: 'target_state';
      readonly upstream: string;
      readonly target: string;
      readonly state: 'enabled' | 'draining' | 'disabled';
    }
  | {
      readonly kind: 'weights';
      readonly upstream: string;
      readonly weights: readonly { readonly target: string; readonly weight: number }[];
    }
  | { readonly kind: 'maintenance'; readonly route: string; readonly enabled: boolean }
  | {
      /** A route's traffic split between upstreams (routes[].split, PUT /routes/split, a canary's step). */
      readonly kind: 'split';
      readonly route: string;
      readonly split: readonly { readonly upstream: string; readonly weight: number }[];
    }
  | {
      /**
       * Stored answers dropped (DELETE /cache): one route's (`route`), its keys under a prefix
       * (`key`), or every route's (both null). Each answer dropped is one the upstream serves
       * again: a purge is how a cache's origin meets a storm.
       */
      readonly kind: 'purge';
      readonly route: string | null;
      readonly key: string | null;
    };

/** A DNS answer changed a discovered upstream's set of targets. */
export interface DiscoveryEvent extends EventBase, TargetMoves {
  readonly kind: 'discovery';
  readonly upstream: string;
}

/** The active health checks took a target out of rotation, or brought it back. */
export interface HealthEvent extends EventBase {
  readonly kind: 'health';
  readonly upstream: string;
  /** The target's origin (scheme://host:port). */
  readonly target: string;
  readonly state: 'healthy' | 'unhealthy';
  /** The failure type of the probe that took it out (the taxonomy's), when there was one. */
  readonly failure?: string;
}

/**
 * A canary's step or action, as the canary controller records it (`Timeline.canary`): its share
 * moved, or it was started, paused, held, rolled back or promoted (by a verdict or an operator).
 */
export interface CanaryEvent extends EventBase {
  readonly kind: 'canary';
  readonly route: string;
  /** The canary's upstream (the new version). */
  readonly upstream: string;
  readonly action: CanaryAction;
  /** The canary's share of the route's traffic after this event, in percent. */
  readonly weight: number;
  /** Why (a rollback's metric and figures, an operator's abort). */
  readonly reason?: string;
}

/**
 * What a canary's controller does, in the one vocabulary its log lines (`"action"`), the admin
 * API (`POST /canary/ACTION`, GET /canary's `actions`), the status page and these events share;
 * the config's `on_failure` and `on_success` name the same actions. Where a canary is after one
 * is its phase (GET /canary's `phase`: running, paused, rolled_back, promoted, held).
 */
export const CANARY_ACTIONS = ['start', 'step', 'pause', 'hold', 'rollback', 'promote'] as const;
export type CanaryAction = (typeof CANARY_ACTIONS)[number];

/**
 * A worker of `--workers N` died while the gateway ran (a crash, a SIGKILL, the kernel's OOM
 * killer; not one that ended in a drain or a stop): every request and tunnel it held was cut,
 * its clients saw resets. The primary records it as it starts the replacement (workers.ts),
 * with what its log line `worker exited: starting another` says.
 */
export interface WorkerEvent extends EventBase {
  readonly kind: 'worker';
  /** The worker that died (null: it had none, its process could not be spawned). */
  readonly pid: number | null;
  /** Its exit code, or the signal that ended it ("SIGKILL"). */
  readonly exit: number | string;
  /**
   * It had listened, so it had connections to cut; false: it died before (a replacement that
   * could not start, its certificate file gone for the moment of a renewal's move).
   */
  readonly served: boolean;
  /** Workers that died soon after they started, in a row, this one included: what the backoff doubles by. */
  readonly short_lived_in_a_row: number;
  /** How long its replacement waits before it is forked, in ms (0: forked at once). */
  readonly restart_in_ms: number;
  /** The replacement's pid, when it was forked at once (one that waits out a backoff has none yet). */
  readonly replacement_pid?: number;
}

export const EVENT_KINDS = ['reload', 'admin', 'discovery', 'health', 'canary', 'worker'] as const;

/**
 * An event as a timeline recorded it: with its `id`, which only goes up within the recording
 * process and across its restarts (timeline.ts), so that a poller of GET /events can pass the
 * last one it saw (`?after=ID`) and miss nothing, where two events made in one millisecond share
 * their `at`.
 */
export type RecordedEvent = GatewayEvent & { readonly id: number };

/** An event as recorded, before it has a time. */
export type NewEvent = Untimed<GatewayEvent>;

type Untimed<E> = E extends GatewayEvent ? Omit<E, 'at'> : never;
