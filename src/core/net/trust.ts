import net from 'node:net';
import { trimOws } from '../ows.ts';
import { blockListOf, rememberedByAddress } from './address-list.ts';
import type { FieldMap } from './downstream.ts';
import { forwardedForNodes, joinedLines, withoutPort } from './forwarded-for.ts';
import { canonicalIPv6, unmapIPv4 } from './ip-address.ts';

/** Which client addresses are proxies whose X-Forwarded-* headers we keep. Built once per config. */
export interface TrustList {
  has(address: string): boolean;
}

export function createTrustList(entries: readonly string[]): TrustList {
  if (entries.length === 0) return { has: () => false };
  const list = blockListOf(entries);
  return { has: rememberedByAddress((address) => checkAddress(list, address)) };
}

function checkAddress(list: net.BlockList, address: string): boolean {
  const plain = unmapIPv4(address);
  return list.check(plain, net.isIPv6(plain) ? 'ipv6' : 'ipv4');
}

/**
 * The client a chain of trusted proxies vouches for: X-Forwarded-For read from its right end
 * (the entry the peer itself wrote) while the hop that wrote it is trusted, as nginx's
 * `real_ip_recursive` reads it; without X-Forwarded-For, the `for=` of Forwarded's elements
 * (RFC 7239), read the same way, for a proxy that writes only that. X-Forwarded-For goes first
 * because nearly every proxy writes it and many pass a client's Forwarded on untouched (nginx,
 * HAProxy by default): read first, a client's Forwarded would be that proxy's word. The peer's
 * own address when the peer is not trusted, or sent neither; an entry that is not an address
 * (garbage, Forwarded's `unknown` or obfuscated `_hidden`, RFC 7239 §6) ends the walk at the
 * last hop vouched for (what lies left of it is no trusted proxy's word): a key for a bucket,
 * never a verdict on who the client is (vouchedClient). Only a trusted proxy's entries are
 * read, so no client can write the address this gives.
 */
export function forwardedClient(peer: string, fields: FieldMap, trust: TrustList): string {
  const walked = walk(peer, fields, trust);
  return typeof walked === 'string' ? walked : walked.lastTrusted;
}

/**
 * forwardedClient for a verdict on who the client is (the IP lists): undefined when a trusted
 * hop's own entry names no address (`unknown`, `_hidden`, garbage, an element without `for=`,
 * or one a client's unclosed quote swallowed: `Forwarded: for="` joined with its proxy's line
 * reads as one quoted-string). The client is then nobody known, and never the trusted proxy
 * itself, whose address an allow list may well hold, and which no deny list names.
 */
export function vouchedClient(peer: string, fields: FieldMap, trust: TrustList): string | undefined {
  const walked = walk(peer, fields, trust);
  return typeof walked === 'string' ? walked : undefined;
}

/** The client the walk found, or the last trusted hop it reached when an entry there named no address. */
function walk(peer: string, fields: FieldMap, trust: TrustList): string | { readonly lastTrusted: string } {
  const forwardedFor = fields['x-forwarded-for'];
  const forwarded = forwardedFor === undefined ? fields.forwarded : undefined;
  if ((forwardedFor === undefined && forwarded === undefined) || !trust.has(peer)) return peer;
  const entries =
    forwardedFor !== undefined
      ? joinedLines(forwardedFor).split(',')
      : forwardedForNodes(joinedLines(forwarded as string | readonly string[]));
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const written = withoutPort(trimOws(entries[i]));
    // node:net takes an IPv6 zone index (`fe80::1%eth0`), meaningless past the proxy's host and
    // taken nowhere else (address lists, PROXY headers, Host): with one, `::ffff:10.0.0.1%eth0`
    // was unmapped as 10.0.0.0. No address, as Forwarded's in X-Forwarded-For already said.
    if (written.includes('%')) return { lastTrusted: client };
    const entry = unmapIPv4(written);
    const family = net.isIP(entry);
    if (family === 0) return { lastTrusted: client };
    // In the one text a socket's and a PROXY header's client have (RFC 5952): `2001:DB8:0:0::7`
    // as written was another name of `2001:db8::7` in {client_ip} and the log.
    client = family === 6 ? canonicalIPv6(entry) : entry;
    if (!trust.has(entry)) break;
  }
  return client;
}

/** Which field forwardedClient read the client from, for a log line that names it. */
export function forwardedField(fields: FieldMap): string {
  return fields['x-forwarded-for'] === undefined ? 'Forwarded' : 'X-Forwarded-For';
}
