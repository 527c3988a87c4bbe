/**
 * RFC 9110 §9.2.2: methods whose intended effect is the same however often they are applied
 * (the gateway's retries and candor/client's alike).
 */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
