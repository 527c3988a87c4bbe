/**
 * How long a connection closed under a client still sending its body stays open to read (and
 * drop) what keeps coming. The bound on what a client can make the gateway read after its
 * answer: this long, at the rate the client manages.
 */
export const LINGER_MS = 2_000;
