/**
 * A loaded config is frozen all the way down: a reload swaps in a whole new snapshot, so
 * a request in flight must be able to trust that the one it started with never changes.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
