// The tsrun command line: runc's commands and flags, over the library in src/.
import { childProcess } from '../src/sys/node-lazy';
import { EarlyInit } from '../src/init/early-init';
import { checkPreserveFds, inheritedFdsFromEnv } from './inherited-fds';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TsrunError, UsageError } from '../src/errors';
import { formatHelp, getBool, getInt, getString, parseArgs, splitGlobal, type FlagDef } from './args';
import { Logger } from './log';
import { parseSubCgroups } from '../src/cgroups/sub-cgroup';
import { checkCriuArgs, checkpointFlags, criuUnavailable, restoreFlags } from './checkpoint';
import { mark } from '../src/sys/trace';
import { version as pkgVersion } from '../package.json';
import { JAIL_HELP } from '../src/jail/help'; // jail (issue 7)

const SPEC_VERSION = '1.2.0';
/** The git commit the bundle was built from (scripts/bundle.mjs defines it). */
declare const TSRUN_COMMIT: string | undefined;

const GLOBAL_FLAGS: FlagDef[] = [
  { name: 'debug', kind: 'bool', usage: 'enable debug logging' },
  { name: 'log', kind: 'string', usage: 'set the log file to write tsrun logs to (default is stderr)' },
  { name: 'log-format', kind: 'string', default: 'text', usage: 'set the log format ("text" or "json")' },
  { name: 'root', kind: 'string', default: '', placeholder: 'value', usage: 'root directory for storage of container state (this should be located in tmpfs); default /run/tsrun, or $XDG_RUNTIME_DIR/tsrun for an unprivileged user' },
  { name: 'criu', kind: 'string', default: 'criu', usage: 'path to the criu binary (checkpointing is not supported)', hidden: true },
  { name: 'systemd-cgroup', kind: 'bool', usage: 'enable systemd cgroup support, expects cgroupsPath to be of form "slice:prefix:name" for e.g. "system.slice:tsrun:434234"' },
  { name: 'rootless', kind: 'string', default: 'auto', usage: 'ignore cgroup permission errors ("true", "false", or "auto")' },
  { name: 'help', alias: ['h'], kind: 'bool', usage: 'show help' },
  { name: 'version', alias: ['v'], kind: 'bool', usage: 'print the version' },
];

interface Ctx {
  /** undefined: the runtime's default (depends on the calling user). */
  root?: string;
  systemdCgroup: boolean;
  log: Logger;
  /** The init the launcher started early, for create, run and exec. */
  early?: EarlyInit;
}

interface Command {
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
  /** The exit code when the command fails once its arguments are accepted:
   * runc's exec exits 255, so that a client tells "the runtime failed" from
   * "the program exited 1"; every other command exits 1. */
  failureCode?: number;
  run: (ctx: Ctx, flags: Record<string, unknown>, args: string[], p: ReturnType<typeof parseArgs>) => Promise<number | void>;
}

const bundleFlag: FlagDef = { name: 'bundle', alias: ['b'], kind: 'string', usage: 'path to the root of the bundle directory, defaults to the current directory', placeholder: 'value' };
const consoleSocketFlag: FlagDef = { name: 'console-socket', kind: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal' };
const pidFileFlag: FlagDef = { name: 'pid-file', kind: 'string', usage: 'specify the file to write the process id to' };
const noPivotFlag: FlagDef = { name: 'no-pivot', kind: 'bool', usage: 'do not use pivot root to jail process inside rootfs. This should be used whenever the rootfs is on top of a ramdisk' };
const noNewKeyringFlag: FlagDef = { name: 'no-new-keyring', kind: 'bool', usage: 'do not create a new session keyring for the container. This will cause the container to inherit the calling processes session key' };
const preserveFdsFlag: FlagDef = { name: 'preserve-fds', kind: 'int', usage: 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)' };
// networking (issue 7): create/run flags; annotations io.github.tsrun.network / .publish do the same.
const networkFlags: FlagDef[] = [
  { name: 'network', kind: 'string', usage: 'attach the container to this network: none (default: loopback only), tsrun0 (alias bridge) or one defined in /etc/tsrun/networks.json or <root>/networks.json', placeholder: 'NAME' },
  { name: 'publish', alias: ['p'], kind: 'strings', usage: 'publish a container port on the host: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|/udp] (repeatable; needs --network)', placeholder: 'SPEC' },
];

async function runtime(ctx: Ctx) {
  const { Runtime } = await import('../src/runtime/runtime');
  mark('runtime module loaded');
  return new Runtime({ root: ctx.root, systemdCgroup: ctx.systemdCgroup, warn: (m) => ctx.log.log('warning', m), debug: ctx.log.debugEnabled ? (m) => ctx.log.log('debug', m) : undefined });
}

/** Forwards the signals tsrun receives to the container process, as runc does
 * in the foreground; returns a function that stops forwarding. */
function forwardSignals(pid: number): () => void {
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

function createOptions(f: Record<string, unknown>, ctx: Ctx) {
  return {
    earlyInit: ctx.early,
    bundle: (f.bundle as string) || process.cwd(),
    pidFile: (f['pid-file'] as string) || undefined,
    consoleSocket: (f['console-socket'] as string) || undefined,
    noPivot: !!f['no-pivot'],
    noNewKeyring: !!f['no-new-keyring'],
    preserveFds: (f['preserve-fds'] as number) || 0,
    // networking (issue 7)
    network: (f.network as string) || undefined,
    publish: (f.publish as string[] | undefined) ?? [],
  };
}

const COMMANDS: Command[] = [
  {
    name: 'create',
    usage: 'create a container',
    argsUsage: '<container-id>',
    description: 'The create command creates an instance of a container for a bundle. The bundle is a directory with a specification file named "config.json" and a root filesystem.',
    flags: [bundleFlag, consoleSocketFlag, pidFileFlag, noPivotFlag, noNewKeyringFlag, preserveFdsFlag, ...networkFlags],
    nargs: 1,
    run: async (ctx, f, [id]) => {
      await (await runtime(ctx)).create(id!, createOptions(f, ctx));
    },
  },
  {
    name: 'start',
    usage: 'executes the user defined process in a created container',
    argsUsage: '<container-id>',
    flags: [],
    nargs: 1,
    run: async (ctx, _f, [id]) => {
      await (await runtime(ctx)).start(id!);
    },
  },
  {
    name: 'run',
    usage: 'create and run a container',
    argsUsage: '<container-id>',
    description: 'The run command creates an instance of a container for a bundle and starts it; in the foreground it waits for the container and exits with its exit code.',
    flags: [
      bundleFlag,
      consoleSocketFlag,
      { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach from the container\'s process' },
      { name: 'keep', kind: 'bool', usage: 'do not delete the container after it exits' },
      pidFileFlag,
      noPivotFlag,
      noNewKeyringFlag,
      preserveFdsFlag,
      ...networkFlags,
    ],
    nargs: 1,
    run: async (ctx, f, [id]) => {
      const rt = await runtime(ctx);
      let stop = () => {};
      const code = await rt.run(id!, {
        ...createOptions(f, ctx),
        detach: !!f.detach,
        keep: !!f.keep,
        onStarted: (pid) => (stop = forwardSignals(pid)),
      });
      stop();
      return code;
    },
  },
  {
    name: 'exec',
    usage: 'execute new process inside the container',
    argsUsage: '<container-id> <command> [command options]  || -p process.json <container-id>',
    interspersed: false,
    failureCode: 255,
    flags: [
      consoleSocketFlag,
      { name: 'cwd', kind: 'string', usage: 'current working directory in the container' },
      { name: 'env', alias: ['e'], kind: 'strings', usage: 'set environment variables' },
      { name: 'tty', alias: ['t'], kind: 'bool', usage: 'allocate a pseudo-TTY' },
      { name: 'user', alias: ['u'], kind: 'string', usage: 'UID (format: <uid>[:<gid>])' },
      { name: 'additional-gids', alias: ['g'], kind: 'strings', usage: 'additional gids' },
      { name: 'process', alias: ['p'], kind: 'string', usage: 'path to the process.json' },
      { name: 'detach', alias: ['d'], kind: 'bool', usage: 'detach from the container\'s process' },
      pidFileFlag,
      { name: 'process-label', kind: 'string', usage: 'set the asm process label for the process commonly used with selinux' },
      { name: 'apparmor', kind: 'string', usage: 'set the apparmor profile for the process' },
      { name: 'no-new-privs', kind: 'bool', usage: 'set the no new privileges value for the process' },
      { name: 'cap', alias: ['c'], kind: 'strings', usage: 'add a capability to the bounding, effective and permitted sets of the process' },
      preserveFdsFlag,
      { name: 'ignore-paused', kind: 'bool', usage: 'allow exec in a paused container' },
      { name: 'cgroup', kind: 'strings', usage: 'run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.' },
    ],
    nargs: [1, Infinity],
    run: async (ctx, f, [id, ...args]) => {
      const { execProcess, loadProcessFile } = await import('../src/runtime/exec-process');
      const rt = await runtime(ctx);
      const st = rt.stored(id!);
      let proc;
      if (f.process) {
        proc = loadProcessFile(resolve(f.process as string));
      } else {
        const gids = (f['additional-gids'] as string[]).flatMap((g) => g.split(',')).map((g) => {
          if (!/^\d+$/.test(g)) throw new UsageError(`invalid additional gid "${g}"`);
          return Number(g);
        });
        proc = execProcess(st.config, st.rootfs, {
          args,
          env: f.env as string[],
          cwd: (f.cwd as string) || undefined,
          user: (f.user as string) || undefined,
          additionalGids: gids,
          caps: f.cap as string[],
          tty: !!f.tty,
          noNewPrivs: !!f['no-new-privs'],
          apparmor: (f.apparmor as string) || undefined,
          processLabel: (f['process-label'] as string) || undefined,
        });
      }
      let stop = () => {};
      const code = await rt.exec(id!, proc, {
        detach: !!f.detach,
        pidFile: (f['pid-file'] as string) || undefined,
        consoleSocket: (f['console-socket'] as string) || undefined,
        preserveFds: (f['preserve-fds'] as number) || 0,
        ignorePaused: !!f['ignore-paused'],
        subCgroups: parseSubCgroups(f.cgroup as string[]),
        earlyInit: ctx.early,
        onStarted: (pid) => (stop = forwardSignals(pid)),
      });
      stop();
      return code;
    },
  },
  {
    name: 'ps',
    usage: 'ps displays the processes running inside a container',
    argsUsage: '<container-id> [ps options]',
    interspersed: false,
    flags: [{ name: 'format', alias: ['f'], kind: 'string', default: 'table', usage: 'select one of: table or json' }],
    nargs: [1, Infinity],
    run: async (ctx, f, [id, ...psArgs]) => {
      const pids = (await runtime(ctx)).pids(id!);
      if (f.format === 'json') {
        process.stdout.write(JSON.stringify(pids) + '\n');
        return;
      }
      if (f.format !== 'table') throw new UsageError(`invalid format option "${f.format}": use table or json`);
      // Like runc: the host's ps, filtered to the container's processes.
      const out = childProcess().execFileSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' }).split('\n');
      const header = out[0] ?? '';
      const col = header.trim().split(/\s+/).indexOf('PID');
      if (col < 0) throw new UsageError('ps: the output of ps has no PID column');
      const wanted = new Set(pids.map(String));
      process.stdout.write(header + '\n');
      for (const line of out.slice(1)) if (wanted.has(line.trim().split(/\s+/)[col] ?? '')) process.stdout.write(line + '\n');
    },
  },
  {
    name: 'pause',
    usage: 'pause suspends all processes inside the container',
    argsUsage: '<container-id>',
    flags: [],
    nargs: 1,
    run: async (ctx, _f, [id]) => {
      await (await runtime(ctx)).pause(id!);
    },
  },
  {
    name: 'resume',
    usage: 'resumes all processes that have been previously paused',
    argsUsage: '<container-id>',
    flags: [],
    nargs: 1,
    run: async (ctx, _f, [id]) => {
      await (await runtime(ctx)).resume(id!);
    },
  },
  {
    name: 'update',
    usage: 'update container resource constraints',
    argsUsage: '<container-id>',
    description:
      'Flags: --resources/-r FILE|- (a linux.resources JSON), --memory, --memory-reservation, --memory-swap, --kernel-memory (ignored), --cpu-quota, --cpu-period, --cpu-shares, --cpu-rt-period, --cpu-rt-runtime, --cpuset-cpus, --cpuset-mems, --pids-limit, --blkio-weight. Memory sizes take k, m, g suffixes; -1 means unlimited.',
    flags: [],
    raw: true,
    nargs: 1,
    run: async (ctx, _f, args) => {
      const { parseUpdateArgs } = await import('../src/cgroups/update');
      const parsed = parseUpdateArgs(args, {
        readFile: (p) => readFileSync(p, 'utf8'),
        readStdin: () => readFileSync(0, 'utf8'),
        warn: (m) => ctx.log.log('warning', m),
      });
      if (parsed.args.length !== 1) throw new UsageError('"tsrun update" requires exactly 1 argument (usage: tsrun update [command options] <container-id>)');
      await (await runtime(ctx)).update(parsed.args[0]!, parsed.resources);
    },
  },
  {
    name: 'events',
    usage: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics',
    argsUsage: '<container-id>',
    flags: [
      { name: 'interval', kind: 'string', default: '5s', usage: 'set the stats collection interval' },
      { name: 'stats', kind: 'bool', usage: 'display the container\'s stats then exit' },
    ],
    nargs: 1,
    run: async (ctx, f, [id]) => {
      const { jsonStringifyU64 } = await import('../src/cgroups/fsutil');
      const rt = await runtime(ctx);
      const emit = (type: string, data?: unknown) =>
        process.stdout.write(jsonStringifyU64(data === undefined ? { type, id } : { type, id, data }) + '\n');
      if (f.stats) {
        emit('stats', rt.stats(id!).stats);
        return;
      }
      const interval = parseDuration(f.interval as string);
      let ooms = rt.stats(id!).oomKills;
      // Stats every interval, an "oom" event as soon as the kernel counts one;
      // ends when the container stops.
      let next = Date.now();
      for (;;) {
        let cur;
        try {
          cur = rt.stats(id!);
        } catch {
          return;
        }
        if (cur.oomKills > ooms) emit('oom');
        ooms = cur.oomKills;
        if (Date.now() >= next) {
          emit('stats', cur.stats);
          next = Date.now() + interval;
        }
        await new Promise((r) => setTimeout(r, Math.min(interval, 200)));
      }
    },
  },
  {
    name: 'state',
    usage: 'output the state of a container',
    argsUsage: '<container-id>',
    flags: [],
    nargs: 1,
    run: async (ctx, _f, [id]) => {
      const st = await (await runtime(ctx)).state(id!);
      process.stdout.write(JSON.stringify(st, null, '  ') + '\n');
    },
  },
  {
    name: 'list',
    usage: 'lists containers started by tsrun with the given root',
    argsUsage: '',
    flags: [
      { name: 'format', alias: ['f'], kind: 'string', default: 'table', usage: 'select one of: table or json' },
      { name: 'quiet', alias: ['q'], kind: 'bool', usage: 'display only container IDs' },
    ],
    nargs: 0,
    run: async (ctx, f) => {
      const list = (await runtime(ctx)).list();
      const format = f.format as string;
      if (f.quiet) {
        for (const c of list) process.stdout.write(c.id + '\n');
      } else if (format === 'json') {
        process.stdout.write(JSON.stringify(list) + '\n');
      } else if (format === 'table') {
        const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...list.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows) process.stdout.write(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('') + '\n');
      } else {
        throw new UsageError(`invalid format option "${format}": use table or json`);
      }
    },
  },
  {
    name: 'kill',
    usage: 'kill sends the specified signal (default: SIGTERM) to the container\'s init process',
    argsUsage: '<container-id> [signal]',
    flags: [{ name: 'all', alias: ['a'], kind: 'bool', usage: 'send the specified signal to all processes inside the container' }],
    nargs: [1, 2],
    run: async (ctx, f, [id, sig]) => {
      const { parseSignal } = await import('../src/runtime/signals');
      const signal = parseSignal(sig ?? 'SIGTERM', { allowZero: true });
      await (await runtime(ctx)).kill(id!, signal, !!f.all);
    },
  },
  {
    name: 'delete',
    usage: 'delete any resources held by the container often used with detached container',
    argsUsage: '<container-id>',
    flags: [{ name: 'force', alias: ['f'], kind: 'bool', usage: 'Forcibly deletes the container if it is still running (uses SIGKILL)' }],
    nargs: 1,
    run: async (ctx, f, [id]) => {
      await (await runtime(ctx)).delete(id!, !!f.force);
    },
  },
  {
    name: 'spec',
    usage: 'create a new specification file',
    argsUsage: '',
    description: 'The spec command creates a new specification file named "config.json" for the bundle.',
    flags: [bundleFlag, { name: 'rootless', kind: 'bool', usage: 'generate a configuration for a rootless container' }],
    nargs: 0,
    run: async (_ctx, f) => {
      const { defaultSpec } = await import('../src/oci/defaults');
      const bundle = resolve((f.bundle as string) || '.');
      const file = join(bundle, 'config.json');
      if (existsSync(file)) throw new TsrunError(`File ${file} exists. Remove it first`);
      if (!existsSync(bundle)) throw new TsrunError(`bundle ${bundle} does not exist`);
      writeFileSync(file, JSON.stringify(defaultSpec({ rootless: !!f.rootless }), null, '\t') + '\n');
    },
  },
  {
    name: 'features',
    usage: 'show the enabled features',
    argsUsage: '',
    flags: [],
    nargs: 0,
    run: async () => {
      const { features } = await import('../src/oci/features');
      process.stdout.write(JSON.stringify(features(), null, '    ') + '\n');
    },
  },
];

/** What the demo container runs: it shows its own isolation from the inside. */
const DEMO_SCRIPT = [
  'echo "hello from a tsrun container"',
  'echo "  hostname:      $(hostname)"',
  'echo "  my pid:        $$ (pid 1 in my own pid namespace)"',
  'echo "  processes:     $(ls /proc | grep -c "^[0-9]")"',
  'echo "  uid_map:       $(cat /proc/self/uid_map | tr -s " ")"',
  'echo "  capabilities:  $(grep CapEff /proc/self/status | cut -f2)"',
  'echo "  network:       $(ls /sys/class/net | tr "\\n" " ")"',
  'touch /probe 2>/dev/null && echo "  root fs:       writable" || echo "  root fs:       read-only"',
].join('; ');

const demoCommand: Command = {
  name: 'demo',
  usage: 'run a demo container from the built-in busybox bundle (no registry needed)',
  argsUsage: '',
  description: 'Builds a bundle from the host\'s static busybox (Debian busybox-static) and the default spec in a temporary directory, runs it in the foreground and deletes it.',
  flags: [{ name: 'keep-bundle', kind: 'string', usage: 'write the bundle to this directory and keep it' }],
  nargs: 0,
  run: async (ctx, f) => {
    const { makeBusyboxBundle } = await import('../src/bundle/busybox');
    const keep = f['keep-bundle'] as string;
    const dir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'tsrun-demo-'));
    try {
      makeBusyboxBundle(dir, { args: ['sh', '-c', DEMO_SCRIPT] });
      const rt = await runtime(ctx);
      return await rt.run(`tsrun-demo-${process.pid}`, { bundle: dir });
    } finally {
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  },
};
COMMANDS.push(demoCommand);

// ---- jail (issue 7): one program isolated without a bundle; logic in src/network/jail.ts ----
function parsePidsFlag(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`invalid --pids "${text}": expected a positive number`);
  return Number(text);
}
const jailCommand: Command = {
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
    const { prepareJail, checkPublish } = await import('../src/jail/jail');
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
COMMANDS.push(jailCommand);

COMMANDS.push(
  {
    name: 'checkpoint',
    usage: 'checkpoint a running container',
    argsUsage: '<container-id>',
    description: 'The checkpoint command saves the state of the container instance.',
    flags: checkpointFlags,
    nargs: 1,
    run: async (ctx, f, [id]) => {
      checkCriuArgs(f, 'checkpoint');
      const st = await (await runtime(ctx)).state(id!);
      if (st.status !== 'running') throw new TsrunError(`cannot checkpoint a ${st.status} container`);
      criuUnavailable('checkpoint');
    },
  },
  {
    name: 'restore',
    usage: 'restore a container from a previous checkpoint',
    argsUsage: '<container-id>',
    description: 'Restores the saved state of the container instance that was previously saved using the tsrun checkpoint command.',
    flags: restoreFlags,
    nargs: 1,
    run: async (_ctx, f) => {
      checkCriuArgs(f, 'restore');
      criuUnavailable('restore');
    },
  },
);

const NOT_YET: string[] = [];

/** Go-style durations as runc takes them: "5s", "500ms", "1m". */
function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new UsageError(`invalid duration "${text}" for --interval (e.g. 5s, 500ms)`);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  const ms = Number(m[1]) * unit;
  if (ms <= 0) throw new UsageError('--interval must be positive');
  return ms;
}

function globalHelp(): string {
  const lines = [
    'NAME:',
    '   tsrun - an OCI container runtime in TypeScript, a drop-in for runc',
    '',
    'USAGE:',
    '   tsrun [global options] command [command options] [arguments...]',
    '',
    'VERSION:',
    `   ${pkgVersion}`,
    '',
    'COMMANDS:',
    ...COMMANDS.map((c) => `   ${c.name.padEnd(Math.max(...COMMANDS.map((d) => d.name.length)) + 3)}${c.usage}`),
    '',
    'GLOBAL OPTIONS:',
    ...GLOBAL_FLAGS.filter((f) => !f.hidden).map((f) => `   --${f.name}${f.kind === 'bool' ? '' : ' value'}`.padEnd(28) + f.usage),
  ];
  return lines.join('\n') + '\n';
}

/** Runs the CLI; resolves with the process exit code. */
/** Commands that start a container process (and so can use an early init). */
const STARTS_PROCESS = new Set(['create', 'run', 'exec']);

export async function main(argv: string[]): Promise<number> {
  mark('main');
  let log = new Logger(undefined, 'text', false);
  let failureCode = 1;
  const early = EarlyInit.fromEnv();
  const inheritedFds = inheritedFdsFromEnv();
  try {
    const split = splitGlobal(argv, GLOBAL_FLAGS);
    const g = split.global;
    log = new Logger(getString(g, 'log') || undefined, getString(g, 'log-format') as 'text', getBool(g, 'debug'));
    if (getBool(g, 'version')) {
      process.stdout.write(`tsrun version ${pkgVersion}\ncommit: ${typeof TSRUN_COMMIT === 'string' ? TSRUN_COMMIT : 'unknown'}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    if (!split.command || getBool(g, 'help') || split.command === 'help') {
      const which = split.command === 'help' ? split.rest[0] : undefined;
      const cmd = COMMANDS.find((c) => c.name === which);
      process.stdout.write(cmd ? formatHelp({ ...cmd, name: `tsrun ${cmd.name}` }) : globalHelp());
      return 0;
    }
    const cmd = COMMANDS.find((c) => c.name === split.command);
    if (!cmd || !STARTS_PROCESS.has(cmd.name)) early?.release();
    if (!cmd) {
      if (NOT_YET.includes(split.command)) throw new UsageError(`"${split.command}" is not implemented yet in tsrun`);
      throw new UsageError(`No help topic for '${split.command}'`);
    }
    const helpFlag: FlagDef = { name: 'help', alias: ['h'], kind: 'bool', usage: 'show help' };
    if (cmd.raw) {
      if (split.rest.includes('--help') || split.rest.includes('-h')) {
        process.stdout.write(formatHelp({ ...cmd, name: `tsrun ${cmd.name}` }));
        return 0;
      }
      const ctx: Ctx = { root: getString(g, 'root') ? resolve(getString(g, 'root')) : undefined, systemdCgroup: getBool(g, 'systemd-cgroup'), log };
      const code = await cmd.run(ctx, {}, split.rest, { flags: {}, positional: split.rest, seen: new Set() });
      return typeof code === 'number' ? code : 0;
    }
    const p = parseArgs(split.rest, [...cmd.flags, helpFlag], { interspersed: cmd.interspersed ?? true });
    if (p.flags.help) {
      process.stdout.write(formatHelp({ ...cmd, name: `tsrun ${cmd.name}` }));
      return 0;
    }
    const [min, max] = typeof cmd.nargs === 'number' ? [cmd.nargs, cmd.nargs] : cmd.nargs;
    if (p.positional.length < min || p.positional.length > max) {
      const what = min === 1 && max === 1 ? 'exactly 1 argument' : min === max ? `exactly ${min} arguments` : `${min} to ${max} arguments`;
      throw new UsageError(`"tsrun ${cmd.name}" requires ${what} (usage: tsrun ${cmd.name} [command options] ${cmd.argsUsage})`);
    }
    if ('preserve-fds' in p.flags) {
      if (getInt(p, 'preserve-fds') < 0) throw new UsageError('--preserve-fds must not be negative');
      checkPreserveFds(getInt(p, 'preserve-fds'), inheritedFds);
    }
    const ctx: Ctx = { root: getString(g, 'root') ? resolve(getString(g, 'root')) : undefined, systemdCgroup: getBool(g, 'systemd-cgroup'), log, early };
    failureCode = cmd.failureCode ?? 1;
    log.log('debug', `tsrun ${cmd.name} ${p.positional.join(' ')}`.trim());
    const code = await cmd.run(ctx, p.flags, p.positional, p);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    const code = e instanceof UsageError ? 1 : failureCode;
    if (e instanceof TsrunError) {
      log.log('error', e.message);
      return code;
    }
    const err = e as NodeJS.ErrnoException;
    // System errors (EACCES on the state root, ...) are one line, like ours.
    if (err?.code && err.syscall) log.log('error', err.message);
    else log.log('error', `internal error: ${err?.stack ?? e}`);
    return code;
  } finally {
    early?.release();
  }
}
