/**
 * Where an app is in its life, in order: `starting` (listening, its dependency check not passed
 * yet), `ready`, `draining` (shutdown began: not ready, still serving everything for the delay),
 * `closing` (not accepting, finishing what is in flight), `stopped`. Only `ready` is ready.
 */
export type AppState = 'starting' | 'ready' | 'draining' | 'closing' | 'stopped';
