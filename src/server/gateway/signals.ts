import { candorTag } from './message-tag.ts';

/**
 * What each signal asks of a running gateway, in one table (README "Signals and drain").
 * The worker acts on it; the supervising primary relays the action to its workers as a
 * message, so that a signal the terminal also sent to the workers (Ctrl-C reaches the whole
 * process group) is not counted twice. SIGHUP (reload) is not in the table yet: it is added
 * with the reload it triggers.
 */
export const SIGNAL_ACTIONS = {
  SIGTERM: 'drain',
  SIGINT: 'drain',
  // nginx's graceful quit (`nginx -s quit`), and Ctrl-\: Node's default would end the process
  // on the spot (a core dump), requests in flight and log lines lost.
  SIGQUIT: 'drain',
  SIGUSR1: 'reopen-logs',
  // A reload to HAProxy, a binary upgrade to nginx: neither is meant here, and Node's default
  // would end the process on the spot. Refused with a line that says what the signals do.
  SIGUSR2: 'nothing',
} as const satisfies Partial<Record<NodeJS.Signals, string>>;

/** What a worker is asked to do: by a signal of its own, or by its primary. */
export type GatewayAction = 'drain' | 'drain-now' | 'reopen-logs';

/** The message a primary sends a worker to relay an action. */
export interface ActionMessage {
  readonly candor: 'action';
  readonly action: GatewayAction;
}

function isActionMessage(message: unknown): message is ActionMessage {
  return (
    candorTag(message) === 'action' &&
    ['drain', 'drain-now', 'reopen-logs'].includes((message as { action?: unknown }).action as string)
  );
}

/**
 * Calls `act` for every signal in the table until the returned function is called: the first
 * SIGTERM or SIGINT asks for a drain, any later one for the drain to end at once.
 */
export function onSignals(act: (action: GatewayAction) => void): () => void {
  let drains = 0;
  const listeners = Object.entries(SIGNAL_ACTIONS).map(([signal, meaning]) => {
    const listener = () => {
      if (meaning === 'nothing')
        process.stderr.write(
          `candor: ${signal} does nothing here (SIGHUP reloads, SIGUSR1 reopens the log, SIGTERM drains)\n`,
        );
      else if (meaning === 'drain') act(drains++ === 0 ? 'drain' : 'drain-now');
      else act(meaning);
    };
    process.on(signal, listener);
    return () => process.off(signal, listener);
  });
  return () => {
    for (const off of listeners) off();
  };
}

/**
 * Under npm (`npm start`, `npx candor serve`, an npm script: npm sets `npm_command`), the
 * gateway's parent is the shell npm ran it with, and npm's SIGTERM ends that shell without
 * passing it on: the gateway, orphaned, would serve on. There, the end of the parent asks for a
 * drain (`drain`), as a first SIGTERM does, never for a second one's cut: a stop that signals the
 * whole process group (systemd's, Ctrl-C) ends the shell too, and the gateway is already
 * draining. Started otherwise (a shell's `&`, nohup, systemd), a gateway whose parent ends serves
 * on, as a daemon should. Returns what stops the watch.
 */
export function drainWhenNpmParentEnds(drain: () => void): () => void {
  if (process.env.npm_command === undefined) return () => {};
  const watch = setInterval(() => {
    if (process.ppid === FIRST_PARENT) return;
    clearInterval(watch);
    drain();
  }, PARENT_WATCH_MS);
  watch.unref();
  return () => clearInterval(watch);
}
const PARENT_WATCH_MS = 1_000;
/** The parent as the process began (this module comes with the CLI's first imports): one that ended while the config loaded counts too. */
const FIRST_PARENT = process.ppid;

/** What a worker's signals do once its inbox is closed: nothing (signal handles do not hold the event loop). */
function ignoreSignal(): void {}

/** Actions asked for before anyone could act on them, handed over on attach(). */
export interface ActionInbox {
  /** From now on `act` receives each action; a drain asked for earlier is replayed first. */
  attach(act: (action: GatewayAction) => void): void;
  /** Stops listening. */
  close(): void;
}

/**
 * A worker listens from its first moment, before its config is loaded: a drain its primary
 * asks for early would otherwise be lost (a message nobody listens to is dropped).
 */
export function listenForActions(): ActionInbox {
  let act: ((action: GatewayAction) => void) | undefined;
  let pending: GatewayAction | undefined;
  const receive = (action: GatewayAction) => {
    if (act !== undefined) return act(action);
    // Only the strongest drain matters; a reopen before the log is open has nothing to do.
    if (action === 'drain-now' || (action === 'drain' && pending === undefined)) pending = action;
  };
  const offSignals = onSignals(receive);
  const onMessage = (message: unknown) => {
    if (isActionMessage(message)) receive(message.action);
  };
  process.on('message', onMessage);
  return {
    attach(handler) {
      act = handler;
      if (pending !== undefined) handler(pending);
    },
    close() {
      offSignals();
      process.off('message', onMessage);
      // Closed once the worker's drain is over, as it ends: a signal now (a second Ctrl-C, which
      // reaches the whole process group) has nothing left to end, and Node's default action
      // would kill the worker, its log unflushed, the primary saying the clean stop unclean.
      for (const signal of Object.keys(SIGNAL_ACTIONS)) process.on(signal, ignoreSignal);
    },
  };
}
