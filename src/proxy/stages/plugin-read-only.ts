/**
 * What a plugin is given to read only, refused when assigned whatever the mode of its code. An
 * ES module is strict, and there an assignment to a getter with no setter, or to a frozen
 * object's property, throws; but a CommonJS plugin is sloppy unless it says 'use strict', and
 * there the same assignment is dropped without a word: `response.status = 503` let the upstream's
 * 200 go out while the plugin believed it had changed it. A setter that throws throws in either
 * mode: the plugin's bug, a 500 naming it and its hook.
 */
import type { PluginResponse } from './plugin-api.ts';

/** How console.log and util.inspect ask an object what to show of it. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Gives each getter of `proto` that has no setter one that throws: set once, when the module that
 * defines the class loads, so a request pays nothing for it. `owner`: the name the plugin knows
 * the object by (`request`).
 */
export function refuseAssignments(proto: object, owner: string): void {
  for (const [field, described] of Object.entries(Object.getOwnPropertyDescriptors(proto)))
    if (described.get !== undefined && described.set === undefined)
      Object.defineProperty(proto, field, { ...described, set: refusal(`${owner}.${field}`) });
}

/** A setter that throws, its stack starting at the plugin's assignment (plugin-faults.ts reads whose code threw by it). */
function refusal(what: string): (value: unknown) => void {
  const refuse = (): void => {
    const refused = new TypeError(`assigned ${what}, which a plugin reads only`);
    Error.captureStackTrace(refused, refuse);
    throw refused;
  };
  return refuse;
}

/** `request.client`: the connection's peer, read only (an address the plugin set would go nowhere). */
export class ReadOnlyClient {
  readonly #address: string;

  constructor(address: string) {
    this.#address = address;
    Object.freeze(this);
  }

  get address(): string {
    return this.#address;
  }

  /** What a plugin that logs it sees (a getter is the prototype's, which JSON and console.log leave out). */
  toJSON(): { address: string } {
    return { address: this.#address };
  }

  [INSPECT](): { address: string } {
    return this.toJSON();
  }
}
refuseAssignments(ReadOnlyClient.prototype, 'request.client');

/** onResponse's `response`: the upstream's status, read only, and its fields, the plugin's to change. */
export class ReadOnlyAnswerHead implements PluginResponse {
  readonly #status: number;
  readonly #headers: Headers;

  constructor(status: number, headers: Headers) {
    this.#status = status;
    this.#headers = headers;
    Object.freeze(this);
  }

  get status(): number {
    return this.#status;
  }

  get headers(): Headers {
    return this.#headers;
  }

  toJSON(): { status: number; headers: Headers } {
    return { status: this.#status, headers: this.#headers };
  }

  [INSPECT](): { status: number; headers: Headers } {
    return this.toJSON();
  }
}
refuseAssignments(ReadOnlyAnswerHead.prototype, 'response');
