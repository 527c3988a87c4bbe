import type { RouteAccessConfig } from '../../core/config/types.ts';
import { type AddressList, createAddressList } from '../../core/net/address-list.ts';

/**
 * A route's `allow` and `deny` lists, asked about the client's address as the gateway knows
 * it (the peer's, or what a trusted PROXY-protocol header said: never an X-Forwarded-For a
 * client can write). `deny` wins over `allow`: an address in both is refused.
 */
export class IpLists {
  readonly #allow: AddressList | undefined;
  readonly #deny: AddressList | undefined;

  constructor(config: RouteAccessConfig) {
    this.#allow = config.allow && createAddressList(config.allow);
    this.#deny = config.deny && createAddressList(config.deny);
  }

  /** Why the address is refused, naming the rule ("deny 10.0.0.0/8"), or undefined when it may pass. */
  refusal(address: string): string | undefined {
    const denied = this.#deny?.match(address);
    if (denied !== undefined) return `deny ${denied}`;
    if (this.#allow !== undefined && this.#allow.match(address) === undefined) return 'not in allow';
    return undefined;
  }
}
