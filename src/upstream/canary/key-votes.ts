import { countOutcome, type SideCounts, type WindowCounts } from './canary-window.ts';

/** Keys a step remembers at most in the controller (a few MB): far more than any step's min_requests. */
const MAX_STEP_KEYS = 262_144;

/**
 * One vote a key a step, across the processes that count (issue 56 item 2). A worker counts a
 * key's first request of the step only (CanaryWindow.countsKey), but a client that spreads its
 * connections over the workers (of `candor serve`) had a request counted in each. The windows
 * bring each keyed outcome with its key's hash and its request's number (SideCounts.keys); here,
 * as the controller takes them, the outcomes of another request of a key the step counted
 * already (in another worker, or an earlier window) are taken back, and the keys are dropped, so
 * what goes on (the step's totals, the fleet's store) is counts alone. `counted`: the step's
 * keys and the request each counted (StepLooks.keys); past MAX_STEP_KEYS it starts again, and a
 * key may count once more only after that many others did.
 */
export function oneVoteAKey(window: WindowCounts, counted: Map<number, number>): void {
  takeBackRepeats(window.canary, counted);
  takeBackRepeats(window.baseline, counted);
}

function takeBackRepeats(side: SideCounts, counted: Map<number, number>): void {
  const keys = side.keys;
  if (keys === undefined) return;
  delete side.keys;
  for (let i = 0; i + 2 < keys.length; i += 3) {
    const [key, request, code] = [keys[i], keys[i + 1], keys[i + 2]];
    const first = counted.get(key);
    if (first === undefined) {
      if (counted.size >= MAX_STEP_KEYS) counted.clear();
      counted.set(key, request);
    } else if (first !== request) countOutcome(side, code, -1);
  }
}
