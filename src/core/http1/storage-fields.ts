/**
 * Fields that let a cache store an answer (RFC 9111 §5.2, §5.3; RFC 9213's targeted fields, which
 * a CDN reads before Cache-Control, and Surrogate-Control). An answer no cache may keep (the
 * gateway's own failures, an auth service's refusal passed on) carries `Cache-Control: no-store`
 * and none of the others.
 */
const STORAGE = new Set(['cache-control', 'expires', 'surrogate-control']);

/** Whether a field (its lower-case name) says how long a cache may keep the answer. */
export function isStorageField(lower: string): boolean {
  return STORAGE.has(lower) || lower.endsWith('cdn-cache-control');
}
