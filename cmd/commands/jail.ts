// One program isolated without a bundle; the jail itself is built in src/network/jail.ts.
import { JAIL_HELP } from '../../src/jail/help';
import { type Command, runtime } from '../command';
import { UsageError } from '../usage-error';

function parsePidsFlag(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`invalid --pids "${text}": expected a positive number`);
  return Number(text);
}

export const jailCommand: Command = {
  name: 'jail',
  usage: 'run one program isolated in a throw-away container built from flags (no bundle needed)',
  argsUsage: '[--] PROGRAM [ARGS...]',
  description: JAIL_HELP,
  interspersed: false,
  flags: [
    { name: 'rootfs', kind: 'string', usage: 'root directory (read-only) instead of a read-only view of the host\'s /usr, /etc, /bin, /sbin, /lib*', placeholder: 'DIR' },
    { name: 'ro', kind: 'strings', usage: 'expose a host path read-only, at the same place or at DEST (repeatable)', placeholder: 'PATH[:DEST]' },
    { name: 'rw', kind: 'strings', usage: 'expose a host path writable (repeatable)', placeholder: 'PATH[:DEST]' },
    { name: 'uid', kind: 'string', usage: 'run in a user namespace as this host uid (root inside, nobody on the host); default: host root without capabilities', placeholder: 'UID[:GID]' },
    { name: 'network', kind: 'string', usage: 'none (default: loopback only), bridge (the default network tsrun0) or a named network', placeholder: 'NAME' },
    { name: 'publish', alias: ['p'], kind: 'strings', usage: 'publish a port: [HOST_IP:]HOST_PORT:PORT[/tcp|/udp] (repeatable; needs --network)', placeholder: 'SPEC' },
    { name: 'memory', kind: 'string', usage: 'memory limit, e.g. 256m', placeholder: 'SIZE' },
    { name: 'cpus', kind: 'string', usage: 'CPU limit in cores, e.g. 0.5', placeholder: 'N' },
    { name: 'pids', kind: 'string', usage: 'limit on the number of processes', placeholder: 'N' },
    { name: 'cap', kind: 'strings', usage: 'keep this capability, e.g. NET_RAW (repeatable; default: none)', placeholder: 'CAP' },
    { name: 'env', alias: ['e'], kind: 'strings', usage: 'set an environment variable (repeatable)', placeholder: 'NAME=VALUE' },
    { name: 'cwd', kind: 'string', usage: 'working directory in the jail (default /)', placeholder: 'DIR' },
    { name: 'hostname', kind: 'string', usage: 'hostname in the jail (default jail)', placeholder: 'NAME' },
    { name: 'tty', alias: ['t'], kind: 'bool', usage: 'give the program a terminal (for interactive programs)' },
    { name: 'name', kind: 'string', usage: 'container id (default jail-<tsrun pid>)', placeholder: 'ID' },
  ],
  nargs: [0, Infinity],
  run: async (ctx, f, args) => {
    const { prepareJail, checkPublish } = await import('../../src/jail/jail');
    const network = (f.network as string) || undefined;
    const publish = f.publish as string[];
    checkPublish(publish, network);
    const jail = prepareJail({
      args,
      rootfs: (f.rootfs as string) || undefined,
      ro: f.ro as string[],
      rw: f.rw as string[],
      uid: (f.uid as string) || undefined,
      memory: (f.memory as string) || undefined,
      cpus: (f.cpus as string) || undefined,
      pids: f.pids ? parsePidsFlag(f.pids as string) : undefined,
      caps: f.cap as string[],
      env: f.env as string[],
      cwd: (f.cwd as string) || undefined,
      hostname: (f.hostname as string) || undefined,
      tty: !!f.tty,
    });
    // Signals: passed on to the program; 5 s later (or at a second one) it is killed.
    let pid = 0;
    let pending: NodeJS.Signals | undefined;
    let killer: NodeJS.Timeout | undefined;
    const send = (sig: NodeJS.Signals | 'SIGKILL') => {
      try {
        if (pid > 0) process.kill(pid, sig);
      } catch {
        // gone
      }
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (!pid) return void (pending = sig);
      if (killer) return send('SIGKILL');
      send(sig);
      killer = setTimeout(() => send('SIGKILL'), 5000);
      killer.unref();
    };
    const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of sigs) process.on(s, onSignal);
    try {
      const rt = await runtime(ctx);
      return await rt.run((f.name as string) || `jail-${process.pid}`, {
        bundle: jail.bundle,
        network: network ?? 'none', // none: lo up
        publish,
        onStarted: (p) => {
          pid = p;
          if (pending) onSignal(pending);
        },
      });
    } finally {
      if (killer) clearTimeout(killer);
      for (const s of sigs) process.off(s, onSignal);
      jail.cleanup();
    }
  },
};
