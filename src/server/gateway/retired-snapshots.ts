import type { Runtime } from '../../proxy/session/runtime.ts';

/** How often a close that waits looks at the requests of the snapshots it waits for. */
const LOOK_MS = 100;

interface WaitingClose {
  /** What it returns (a plugin's close(): a promise) is waited for by closeNow only. */
  readonly close: () => unknown;
  /** The snapshots whose requests may still use what it closes. */
  readonly snapshots: readonly Runtime[];
  /** performance.now() past which it closes whatever is in flight. */
  readonly deadline: number;
}

/**
 * The snapshots reloads replaced while requests that began on them are in flight (each ends on
 * the snapshot it began with), and what the new config no longer names that they may still use:
 * a Redis store (the rate limits', an OpenID Connect route's sessions), the plugins' instances.
 * Closed at the swap, a request still before its check met a closed client (a 503 under on_error
 * deny, a limit not checked under allow), a plugin's later hook what its close() had released (a
 * 500 naming the plugin, the reload's fault); closed here once every request of the snapshots
 * retired so far has ended (Runtime.requests), or at `bound` after its reload whatever is in
 * flight (a stuck request or a tunnel must not keep a connection for ever), as a removed
 * listener's connections are.
 */
export class RetiredSnapshots {
  /** Replaced snapshots with requests in flight when last looked at, each with its deadline. */
  readonly #snapshots = new Map<Runtime, number>();
  readonly #closes: WaitingClose[] = [];
  #timer: NodeJS.Timeout | undefined;

  /** `snapshot` was replaced; `closes` run once its requests (and older ones') have ended, `bound` ms at most. */
  retire(snapshot: Runtime, closes: readonly (() => unknown)[], bound: number): void {
    const deadline = performance.now() + bound;
    this.#snapshots.set(snapshot, deadline);
    const snapshots = [...this.#snapshots.keys()];
    for (const close of closes) this.#closes.push({ close, snapshots, deadline });
    this.#look();
  }

  /**
   * The gateway stops (its drain has ended the requests): every close still waiting runs now,
   * its end waited for (a plugin's close() is bounded by its caller), as the live ones' are.
   */
  async closeNow(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#snapshots.clear();
    await Promise.all(this.#closes.splice(0).map(({ close }) => close()));
  }

  readonly #look = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = performance.now();
    for (const [snapshot, deadline] of this.#snapshots)
      if (snapshot.requests.count === 0 || now >= deadline) this.#snapshots.delete(snapshot);
    const due = this.#closes.filter(
      (waiting) => now >= waiting.deadline || waiting.snapshots.every((s) => !this.#snapshots.has(s)),
    );
    for (const waiting of due) {
      this.#closes.splice(this.#closes.indexOf(waiting), 1);
      waiting.close();
    }
    // Looked at again while a snapshot is held: a later reload's closes wait for it too. A timer
    // that never holds the process up (the connections it would close do that while open).
    if (this.#snapshots.size > 0) this.#timer = setTimeout(this.#look, LOOK_MS).unref();
  };
}
