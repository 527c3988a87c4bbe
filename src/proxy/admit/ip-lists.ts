import type { RouteAccessConfig } from '../../core/config/types.ts';
import { type AddressList, createAddressList } from '../../core/net/address-list.ts';
import type { FieldMap } from '../../core/net/downstream.ts';
import { isGlobalIPv4 } from '../../core/net/global-ipv4.ts';
import { nat64IPv4 } from '../../core/net/ip-address.ts';
import { forwardedField, type TrustList, vouchedClient } from '../../core/net/trust.ts';

/**
 * A route's `allow` and `deny` lists, asked about the client's address as the gateway knows
 * it (the peer's, or what a trusted PROXY-protocol header said; behind proxies in
 * `trust_forwarded_from`, the client they vouch for: never an X-Forwarded-For a client can
 * write). `deny` wins over `allow`: an address in both is refused. A NAT64 address
 * (`64:ff9b::/96`) is the IPv4 host it stands for as well, as a rate limit keys it: a `deny`
 * of that host's IPv4 block refuses it through the translator, and an `allow` of it lets it in.
 * Not one that holds a non-global IPv4 (`64:ff9b::a00:1`): the prefix MUST NOT stand for one
 * (RFC 6052 §3.1), so no translator made it, and an `allow` of `10.0.0.0/8` (the inside
 * network) does not let it in: it is the IPv6 address it is. A `deny` of that IPv4 block still
 * refuses it: refusing is the safe side, and the rule is not dodged by any spelling.
 */
export class IpLists {
  readonly #allow: AddressList | undefined;
  readonly #deny: AddressList | undefined;

  constructor(config: RouteAccessConfig) {
    this.#allow = config.allow && createAddressList(config.allow);
    this.#deny = config.deny && createAddressList(config.deny);
  }

  /**
   * Why the request's client is refused, for the log ("ip deny 10.0.0.0/8 (X-Forwarded-For
   * 10.1.2.3)"), or undefined when it may pass. The client is the peer (`clientAddress`), or
   * behind trusted proxies the one they vouch for; one a trusted proxy's entry does not name
   * is unknown, and refused: judged as that proxy, it passed an allow list holding the proxy.
   */
  judge(clientAddress: string, fields: FieldMap, trust: TrustList): string | undefined {
    const address = vouchedClient(clientAddress, fields, trust);
    if (address === undefined) return `ip client unknown (${forwardedField(fields)})`;
    const refused = this.refusal(address);
    if (refused === undefined) return undefined;
    return address === clientAddress
      ? `ip ${refused}`
      : `ip ${refused} (${forwardedField(fields)} ${address})`;
  }

  /** Why the address is refused, naming the rule ("deny 10.0.0.0/8"), or undefined when it may pass. */
  refusal(address: string): string | undefined {
    const ipv4 = nat64IPv4(address);
    const denied = this.#deny?.match(address) ?? (ipv4 && this.#deny?.match(ipv4));
    if (denied) return `deny ${denied}`;
    if (
      this.#allow !== undefined &&
      this.#allow.match(address) === undefined &&
      (ipv4 === undefined || !isGlobalIPv4(ipv4) || this.#allow.match(ipv4) === undefined)
    )
      return 'not in allow';
    return undefined;
  }
}
