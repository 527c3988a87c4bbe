/**
 * The tag every Candor message on the IPC channel between a primary and its workers carries
 * (`candor`: ipc-protocol.ts's, shared-protocol.ts's, signals.ts's action), read of a message
 * that may be anything: undefined for one that is no object.
 */
export function candorTag(message: unknown): unknown {
  return typeof message === 'object' && message !== null
    ? (message as { candor?: unknown }).candor
    : undefined;
}
