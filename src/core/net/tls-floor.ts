/**
 * The cipher list the gateway's TLS is made with, its connections to upstreams and its listeners
 * alike: Node's own, at OpenSSL's security level 2 where this Node's OpenSSL defaults below it.
 * OpenSSL before 3.2 (Node 22's 3.0) defaults to level 1, which takes a certificate with a
 * 1024-bit RSA key (an upstream's, a client's) that Node 24's (3.2 and later, level 2) refuses,
 * as docs/hostile-peers.md says Candor does. Undefined where the default is level 2 already:
 * Node's default list, and a higher level an OpenSSL config sets, stay as they are. Read once.
 */
import tls from 'node:tls';
import { bundledBefore } from '../bundled-versions.ts';

export const LEVEL2_CIPHERS: string | undefined = bundledBefore('openssl', 3, 2)
  ? `${tls.DEFAULT_CIPHERS}:@SECLEVEL=2`
  : undefined;
