import { rememberedKey } from './remembered-key.ts';

/** How long a key whose whole answer was not kept is not fetched whole again for a Range (Varnish's hit-for-miss, 120 s in its builtin VCL). */
export const UNKEPT_MS = 120_000;

/** Keys remembered at most: past it, the oldest is forgotten (its next Range fetches the whole answer again). */
const MAX_UNKEPT = 4096;

/**
 * The keys whose whole answer, fetched for a Range that found nothing stored (cache-run.ts), the
 * cache did not keep (`no-store`, `private`, past `max_entry`). A Range of one of them goes
 * upstream as sent for UNKEPT_MS: fetched whole each time, a private video's every seek would
 * cost the origin a second request and up to `max_entry` bytes read for nobody. A plain GET that
 * stores the key's answer meanwhile is met by the next Range from the store, as any.
 */
export class UnkeptKeys {
  /** Map order is when each was noted: the oldest first. */
  readonly #since = new Map<string, number>();

  note(key: string): void {
    // By a digest when long: 4096 keys of a client's choosing, each as long as its target.
    const remembered = rememberedKey(key);
    this.#since.delete(remembered);
    this.#since.set(remembered, performance.now());
    if (this.#since.size > MAX_UNKEPT) this.#since.delete(this.#since.keys().next().value as string);
  }

  /** Noted within UNKEPT_MS (one noted before is forgotten here). */
  has(key: string): boolean {
    if (this.#since.size === 0) return false;
    const remembered = rememberedKey(key);
    const since = this.#since.get(remembered);
    if (since === undefined) return false;
    if (performance.now() - since < UNKEPT_MS) return true;
    this.#since.delete(remembered);
    return false;
  }
}
