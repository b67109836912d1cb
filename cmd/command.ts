// What each file in cmd/commands/ exports (a Command), what the dispatcher
// gives it (a Ctx), and what several commands share: flags, the runtime and
// signal forwarding.
import type { EarlyInit } from '../src/init/early-init';
import { mark } from '../src/sys/trace';
import type { FlagDef } from './args';
import type { Logger } from './log';

export interface Ctx {
  /** undefined: the runtime's default (depends on the calling user). */
  root?: string;
  systemdCgroup: boolean;
  log: Logger;
  /** The init the launcher started early, for commands that start a process. */
  early?: EarlyInit;
}

export interface Command {
  name: string;
  usage: string;
  argsUsage: string;
  description?: string;
  flags: FlagDef[];
  /** false: flags stop at the first positional argument (exec). */
  interspersed?: boolean;
  /** The command parses its own arguments (update's runc-compatible flag set). */
  raw?: boolean;
  /** Exact number of positional arguments, or [min, max]. */
  nargs: number | [number, number];
  /** The command starts a container process, and so can use the init the
   * launcher started early; for every other command it is released at once. */
  startsProcess?: boolean;
  /** The exit code when the command fails once its arguments are accepted:
   * runc's exec exits 255, so that a client tells "the runtime failed" from
   * "the program exited 1"; every other command exits 1. */
  failureCode?: number;
  /** Resolves with the exit code, or nothing for 0. */
  run: (ctx: Ctx, flags: Record<string, unknown>, args: string[]) => Promise<number | void>;
}

export const bundleFlag: FlagDef = { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory, defaults to the current directory', placeholder: 'value' };
export const consoleSocketFlag: FlagDef = { name: 'console-socket', kind: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal' };
export const pidFileFlag: FlagDef = { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' };
export const detachFlag: FlagDef = { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach from the container\'s process' };
export const noPivotFlag: FlagDef = { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk' };
export const noNewKeyringFlag: FlagDef = { name: 'no-new-keyring', kind: 'bool', usage: 'do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key' };
/** The dispatcher checks its value against the fds tsrun was given. */
export const preserveFdsFlag: FlagDef = { name: 'preserve-fds', kind: 'int', usage: 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)' };
/** create's and run's; the annotations io.github.tsrun.network / .publish do the same. */
export const networkFlags: FlagDef[] = [
  { name: 'network', kind: 'string', usage: 'attach the container to this network: none (default: loopback only), tsrun0 (alias bridge) or one defined in /etc/tsrun/networks.json or <root>/networks.json', placeholder: 'NAME' },
  { name: 'publish', alias: ['p'], kind: 'strings', usage: 'publish a container port on the host: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp] (repeatable; needs --network)', placeholder: 'SPEC' },
];
/** list's and ps's output format. */
export const formatFlag: FlagDef = { name: 'format', alias: ['f'], kind: 'string', default: 'table', usage: 'select one of: table or json' };

/** The runtime, loaded on first use: commands that need none (help, spec,
 * features) do not pay for loading it. */
export async function runtime(ctx: Ctx) {
  const { Runtime } = await import('../src/runtime/runtime');
  mark('runtime module loaded');
  return new Runtime({ root: ctx.root, systemdCgroup: ctx.systemdCgroup, warn: (m) => ctx.log.log('warning', m), debug: ctx.log.debugEnabled ? (m) => ctx.log.log('debug', m) : undefined });
}

/** Forwards the signals tsrun receives to the container process, as runc does
 * in the foreground; returns a function that stops forwarding. */
export function forwardSignals(pid: number): () => void {
  const handlers: [NodeJS.Signals, () => void][] = [];
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as NodeJS.Signals[]) {
    const h = () => {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    };
    process.on(sig, h);
    handlers.push([sig, h]);
  }
  return () => handlers.forEach(([sig, h]) => process.off(sig, h));
}
