// Helpers for the client integration tests (integration/podman.test.ts and
// integration/containerd.test.ts): real container engines driving tsrun (or,
// as a harness check, runc) through the runc command line.
//
// - run(): every spawned command has a timeout and its stdout/stderr in files,
//   never pipes (a daemon the command leaves behind - conmon, a shim, a
//   container - may hold a pipe open for ever; spawnSync would wait for it).
// - RuntimeWrapper: a small shell script that the engine is pointed at instead
//   of tsrun. It appends each command line the engine ran (and its exit code) to
//   a log file, then runs the real runtime. Besides letting tests check that
//   tsrun really was used, it is the first thing to look at when tsrun
//   misbehaves under a client: `cat <dir>/<name>.log`.
// - Podman / Containerd: a private instance of each engine, with all of its
//   state under one temporary directory, removed again by cleanup().
// - busyboxRootfs() / ociArchive(): a busybox image without a registry.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { containerdConfig } from '../scripts/containerd-config.mjs';
import { makeBusyboxBundle } from '../src/bundle/busybox';
import { TSRUN } from './helpers';

export { TSRUN };

/** Every command a test spawns gets at most this long (ms). */
export const CMD_TIMEOUT = 60_000;

export interface CmdResult {
  /** Exit code; 128+signal when killed by a signal (or by the timeout). */
  code: number;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** The command line, for assertion messages. */
  cmd: string;
}

export interface RunOpts {
  input?: string;
  timeout?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

let seq = 0;
const SIGNUM: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** Quotes one word for sh. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command with stdio in files and a timeout (SIGKILL when it expires). */
export function run(file: string, args: string[], opts: RunOpts = {}): CmdResult {
  const scratch = mkdtempSync(join(tmpdir(), 'tsrun-cli-'));
  const n = seq++;
  const inF = join(scratch, `in${n}`);
  const outF = join(scratch, `out${n}`);
  const errF = join(scratch, `err${n}`);
  writeFileSync(inF, opts.input ?? '');
  const fds = [openSync(inF, 'r'), openSync(outF, 'w'), openSync(errF, 'w')];
  const timeout = opts.timeout ?? CMD_TIMEOUT;
  try {
    const r = spawnSync(file, args, {
      stdio: fds,
      timeout,
      killSignal: 'SIGKILL',
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    return {
      code: r.status ?? 128 + (r.signal ? SIGNUM[r.signal] ?? 0 : 0),
      signal: r.signal,
      timedOut,
      stdout: readFileSync(outF, 'utf8'),
      stderr: readFileSync(errF, 'utf8') + (timedOut ? `\n[timed out after ${timeout} ms]` : '') + (r.error && !timedOut ? `\n[${r.error.message}]` : ''),
      cmd: [file, ...args].map(shq).join(' '),
    };
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs a command line inside a new pseudo-terminal (util-linux `script`); the exit code is the command's. */
export function runInPty(file: string, args: string[], opts: RunOpts = {}): CmdResult {
  const line = [file, ...args].map(shq).join(' ');
  const r = run('script', ['-qec', line, '/dev/null'], { ...opts, env: { ...(opts.env ?? process.env), TERM: 'xterm' } });
  return { ...r, cmd: `script -qec ${shq(line)} /dev/null` };
}

/** A one-line summary of a result for assertion messages. */
export function show(r: CmdResult, extra = ''): string {
  return `$ ${r.cmd}\nexit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}${extra ? `\n${extra}` : ''}`;
}

/** Is `cmd` an executable on PATH (or an absolute path)? */
export function which(cmd: string): string | null {
  if (cmd.startsWith('/')) return existsSync(cmd) ? cmd : null;
  for (const d of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(d, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean, ms = 20_000, step = 100): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, step));
  }
}

// ---------------------------------------------------------------------------
// the runtime wrapper

export interface RuntimeCall {
  time: string;
  pid: number;
  /** The arguments the client passed (as logged: words joined by spaces). */
  line: string;
  exit?: number;
}

/**
 * A shell script standing in for the runtime binary: logs "$@" (and later the
 * exit code) to `<dir>/<name>.log` and runs `target`. With `root`, it runs
 * `target --root <root> "$@"`, giving the runtime a private state directory
 * (podman passes no --root to the runtime when run as root; the log shows the
 * arguments exactly as the client passed them, without the injected --root).
 */
export class RuntimeWrapper {
  readonly path: string;
  readonly log: string;

  constructor(
    dir: string,
    readonly name: string,
    readonly target: string,
    readonly root?: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, name);
    this.log = join(dir, `${name}.log`);
    const nodeDir = dirname(process.execPath);
    const inject = root ? `--root ${shq(root)} ` : '';
    writeFileSync(
      this.path,
      `#!/bin/sh
# Written by integration/clients.ts: logs how a client ran the runtime, then runs it.
PATH=${shq(nodeDir)}:"$PATH"; export PATH
log=${shq(this.log)}
printf '%s %s call %s\\n' "$(date +%H:%M:%S.%N)" "$$" "$*" >> "$log"
${shq(target)} ${inject}"$@"
rc=$?
printf '%s %s exit %s\\n' "$(date +%H:%M:%S.%N)" "$$" "$rc" >> "$log"
exit $rc
`,
      { mode: 0o755 },
    );
    writeFileSync(this.log, '');
  }

  /** The calls logged so far, in order. */
  calls(): RuntimeCall[] {
    const byPid = new Map<number, RuntimeCall>();
    const out: RuntimeCall[] = [];
    for (const l of readFileSync(this.log, 'utf8').split('\n')) {
      const m = /^(\S+) (\d+) (call|exit) ?(.*)$/.exec(l);
      if (!m) continue;
      const pid = Number(m[2]);
      if (m[3] === 'call') {
        const c: RuntimeCall = { time: m[1], pid, line: m[4] };
        byPid.set(pid, c);
        out.push(c);
      } else {
        const c = byPid.get(pid);
        if (c) c.exit = Number(m[4]);
      }
    }
    return out;
  }

  /** The calls whose command line mentions `word` (e.g. a container id). */
  callsFor(word: string): RuntimeCall[] {
    return this.calls().filter((c) => c.line.split(' ').includes(word));
  }

  /** The subcommand of a call (the first word that is not a global flag or its value). */
  static subcommand(c: RuntimeCall): string {
    const w = c.line.split(' ');
    for (let i = 0; i < w.length; i++) {
      if (/^--?(root|log|log-format|criu|rootless)$/.test(w[i])) {
        i++;
        continue;
      }
      if (w[i].startsWith('-')) continue;
      return w[i];
    }
    return '';
  }

  /** The log's text, for assertion messages. */
  text(lastLines = 40): string {
    return `--- ${this.log} (last ${lastLines} lines)\n${readFileSync(this.log, 'utf8').split('\n').slice(-lastLines - 1).join('\n')}`;
  }
}

// ---------------------------------------------------------------------------
// images

/** Makes `<dir>/rootfs` with the host's static busybox; returns its path. */
export function busyboxRootfs(dir: string): string {
  makeBusyboxBundle(dir, { args: ['sh'] });
  return join(dir, 'rootfs');
}

/** A plain tar of a directory's contents (numeric owners, as an image layer). */
export function tarDir(dir: string, out: string): string {
  const r = run('tar', ['--numeric-owner', '-C', dir, '-cf', out, '.']);
  if (r.code !== 0) throw new Error(`tar failed:\n${show(r)}`);
  return out;
}

export { ociArchive } from '../scripts/oci-archive.mjs';

// ---------------------------------------------------------------------------
// host leftovers

/** Mount points at or under `dir` (from /proc/self/mountinfo), deepest first. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Unmounts (lazily) everything at or under `dir`. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) run('umount', ['-l', m], { timeout: 20_000 });
}

/** The cgroup v1/v2 hierarchies mounted under /sys/fs/cgroup (directories). */
export function cgroupHierarchies(): string[] {
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) return [base];
  const out: string[] = [];
  for (const d of readdirSync(base)) {
    const p = join(base, d);
    try {
      if (statSync(p).isDirectory() && existsSync(join(p, 'cgroup.procs'))) out.push(p);
    } catch {
      // vanished
    }
  }
  return out;
}

/** Existing cgroup directories `<hierarchy>/<rel>` on every hierarchy. */
export function cgroupDirs(rel: string): string[] {
  return cgroupHierarchies()
    .map((h) => join(h, rel))
    .filter((p) => existsSync(p));
}

/** Child cgroups (sub-directories) of `<hierarchy>/<rel>`, on every hierarchy, as "<hierarchy>/<rel>/<child>". */
export function cgroupChildren(rel: string): string[] {
  const out: string[] = [];
  for (const d of cgroupDirs(rel)) {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) out.push(join(d, e.name));
  }
  return out;
}

/** The first of `names` found in `<hierarchy>/<rel>` on any hierarchy, trimmed; null if none. */
export function cgroupFile(rel: string, names: string[]): string | null {
  for (const name of names) {
    for (const d of cgroupDirs(rel)) {
      const p = join(d, name);
      if (existsSync(p)) return readFileSync(p, 'utf8').trim();
    }
  }
  return null;
}

/** Removes `<hierarchy>/<rel>` and its (empty) children, deepest first, on every hierarchy. */
export function removeCgroupTree(rel: string): void {
  const rm = (p: string) => {
    try {
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) rm(join(p, e.name));
      rmdirSync(p);
    } catch {
      // busy or gone: leave it (a leftover check reports it)
    }
  };
  for (const d of cgroupDirs(rel)) rm(d);
}

/** Pids of processes whose command line contains every string in `needles`. */
export function pidsMatching(...needles: string[]): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (needles.every((n) => cmdline.includes(n))) out.push(Number(e));
  }
  return out;
}

/** Live processes among `pids` (zombies excluded). */
export function alive(pids: number[]): number[] {
  return pids.filter((p) => {
    try {
      return !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch {
      return false;
    }
  });
}

/** Container ids left in a tsrun/runc state directory. */
export function stateEntries(root: string): string[] {
  try {
    return readdirSync(root).filter((e) => !e.startsWith('.'));
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------
// podman

/** Flags every `podman run`/`create` here needs (see NOTES.md §4): ulimits within the host's hard limits, no network. */
export const PODMAN_RUN_FLAGS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--network', 'none'];

/**
 * A private podman: storage (--root/--runroot), tmpdir and containers.conf
 * under one temporary directory, cgroupfs cgroup manager (no systemd), file
 * events backend, containers under a private cgroup parent.
 */
export class Podman {
  readonly dir: string;
  readonly storageRoot: string;
  readonly runRoot: string;
  readonly conf: string;
  /** cgroup parent of every container run through run()/create() (relative to each hierarchy). */
  readonly cgroupParent: string;
  readonly tsrunState: string;
  readonly tsrun: RuntimeWrapper;
  readonly runc: RuntimeWrapper | null;
  driver = 'overlay';
  readonly image = 'localhost/tsrun-busybox:latest';

  constructor(tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `tsrun-podman-${tag}-`));
    this.storageRoot = join(this.dir, 'storage');
    this.runRoot = join(this.dir, 'run');
    this.cgroupParent = `tsrun-podman-${tag}-${process.pid}`;
    this.tsrunState = join(this.dir, 'tsrun-state');
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
    // podman reads only $CONTAINERS_CONF when it is set: ours is the system's
    // containers.conf with its default_sysctls (Debian: net.ipv4.ping_group_range)
    // cleared, so that one tsrun bug (a sysctl with /proc/sys read-only, see its
    // own test) does not hide every other result. `stock: true` runs podman
    // with the system's files as they are.
    let system = '';
    for (const f of ['/etc/containers/containers.conf', '/usr/share/containers/containers.conf']) {
      if (existsSync(f)) {
        system = readFileSync(f, 'utf8');
        break;
      }
    }
    system = system.replace(/^\s*default_sysctls\s*=\s*\[[^\]]*\]/m, 'default_sysctls = []');
    if (!/^\s*default_sysctls\s*=/m.test(system)) system = system.replace(/^\[containers\]\s*$/m, '[containers]\ndefault_sysctls = []');
    if (!/^\s*default_sysctls\s*=/m.test(system)) system = `[containers]\ndefault_sysctls = []\n${system}`;
    this.conf = join(this.dir, 'containers.conf');
    writeFileSync(this.conf, system);
    this.tsrun = new RuntimeWrapper(join(this.dir, 'bin'), 'tsrun', TSRUN, this.tsrunState);
    const runc = which('runc');
    this.runc = runc ? new RuntimeWrapper(join(this.dir, 'bin'), 'runc', runc, join(this.dir, 'runc-state')) : null;
  }

  globalArgs(): string[] {
    return ['--root', this.storageRoot, '--runroot', this.runRoot, '--tmpdir', join(this.dir, 'tmp'), '--storage-driver', this.driver, '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  }

  env(stock = false): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF: this.conf };
    if (stock) delete env.CONTAINERS_CONF;
    return env;
  }

  /** `podman <private flags> [--runtime R] ...args`. */
  podman(args: string[], opts: RunOpts & { runtime?: RuntimeWrapper; stock?: boolean } = {}): CmdResult {
    const rt = opts.runtime ? ['--runtime', opts.runtime.path] : [];
    return run('podman', [...this.globalArgs(), ...rt, ...args], { ...opts, env: opts.env ?? this.env(opts.stock) });
  }

  /** The same through a pty. */
  podmanPty(args: string[], opts: RunOpts & { runtime?: RuntimeWrapper; stock?: boolean } = {}): CmdResult {
    const rt = opts.runtime ? ['--runtime', opts.runtime.path] : [];
    return runInPty('podman', [...this.globalArgs(), ...rt, ...args], { ...opts, env: opts.env ?? this.env(opts.stock) });
  }

  /** Flags for `podman run`/`create`: ours plus a private cgroup parent. */
  runFlags(): string[] {
    return [...PODMAN_RUN_FLAGS, '--cgroup-parent', `/${this.cgroupParent}`];
  }

  /** Picks a storage driver that works here (overlay, else vfs) and imports the busybox image. */
  setup(): void {
    for (const driver of ['overlay', 'vfs']) {
      this.driver = driver;
      const info = this.podman(['info', '--format', '{{.Store.GraphDriverName}}']);
      if (info.code !== 0) continue;
      const rootfs = busyboxRootfs(join(this.dir, 'image'));
      const tar = tarDir(rootfs, join(this.dir, 'busybox.tar'));
      const imp = this.podman(['import', tar, this.image]);
      if (imp.code === 0) return;
      if (driver === 'vfs') throw new Error(`podman import failed:\n${show(imp)}`);
      this.podman(['system', 'reset', '--force']);
    }
    throw new Error(`podman info fails with both overlay and vfs storage:\n${show(this.podman(['info']))}`);
  }

  /** Removes every container and image, the private cgroups, mounts and directory. */
  cleanup(): void {
    this.podman(['rm', '--all', '--force', '--time', '0']);
    this.podman(['rmi', '--all', '--force']);
    // Anything podman's cleanup missed: containers still in the runtimes' state dirs.
    for (const w of [this.tsrun, this.runc]) {
      if (!w?.root) continue;
      for (const id of stateEntries(w.root)) run(w.target, ['--root', w.root, 'delete', '--force', id]);
    }
    for (const pid of alive(pidsMatching('conmon', this.dir))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    unmountUnder(this.dir);
    removeCgroupTree(this.cgroupParent);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// containerd

/**
 * A private containerd started by hand: config, root, state, gRPC/ttrpc/debug
 * sockets and the opt plugin's directory under one temporary directory, CRI
 * disabled. ctr commands use a private namespace, FIFO directory and runc root.
 */
export class Containerd {
  readonly dir: string;
  readonly sock: string;
  readonly ns: string;
  readonly logFile: string;
  readonly fifoDir: string;
  readonly tsrun: RuntimeWrapper;
  readonly runc: RuntimeWrapper | null;
  snapshotter = 'overlayfs';
  readonly image = 'docker.io/library/tsrun-busybox:latest';
  private proc: ChildProcess | null = null;
  private exited = false;

  constructor(tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `tsrun-ctd-${tag}-`));
    this.sock = join(this.dir, 'containerd.sock');
    this.ns = `tsrun-${tag}-${process.pid}`;
    this.logFile = join(this.dir, 'containerd.log');
    this.fifoDir = join(this.dir, 'fifo');
    mkdirSync(this.fifoDir, { recursive: true });
    // The runtimes' state roots: the shim passes --root <runc-root>/<namespace>.
    this.tsrun = new RuntimeWrapper(join(this.dir, 'bin'), 'tsrun', TSRUN);
    const runc = which('runc');
    this.runc = runc ? new RuntimeWrapper(join(this.dir, 'bin'), 'runc', runc) : null;
  }

  /** Where a runtime keeps this namespace's containers (`ctr run --runc-root <runtimeRoot(w)>`). */
  runtimeRoot(w: RuntimeWrapper): string {
    return join(this.dir, `${w.name}-root`);
  }

  /** The tsrun/runc state directory of this namespace for a runtime. */
  stateDir(w: RuntimeWrapper): string {
    return join(this.runtimeRoot(w), this.ns);
  }

  /** The cgroup path ctr gives a container by default: /<namespace>/<id>. */
  cgroupOf(id: string): string {
    return `${this.ns}/${id}`;
  }

  async start(): Promise<void> {
    const d = this.dir;
    writeFileSync(join(d, 'config.toml'), containerdConfig(d, this.sock));
    const log = openSync(this.logFile, 'a');
    this.proc = spawn('containerd', ['--config', join(d, 'config.toml')], { stdio: ['ignore', log, log] });
    closeSync(log);
    this.proc.on('exit', () => {
      this.exited = true;
    });
    const up = await waitFor(() => this.exited || (existsSync(this.sock) && this.ctr(['version'], { timeout: 10_000 }).code === 0), 30_000, 200);
    if (!up || this.exited) throw new Error(`containerd did not come up:\n${this.logTail()}`);
    const plugins = this.ctr(['plugins', 'ls']).stdout;
    if (!/io\.containerd\.snapshotter\.v1\s+overlayfs\s+\S+\s+ok/.test(plugins)) this.snapshotter = 'native';
  }

  /** `ctr -a <sock> -n <ns> ...args`. */
  ctr(args: string[], opts: RunOpts = {}): CmdResult {
    return run('ctr', ['-a', this.sock, '-n', this.ns, ...args], opts);
  }

  /** The same through a pty. */
  ctrPty(args: string[], opts: RunOpts = {}): CmdResult {
    return runInPty('ctr', ['-a', this.sock, '-n', this.ns, ...args], opts);
  }

  /** `ctr run` flags selecting a runtime binary, its root, our FIFO dir and snapshotter. */
  runFlags(w: RuntimeWrapper): string[] {
    return ['--runc-binary', w.path, '--runc-root', this.runtimeRoot(w), '--fifo-dir', this.fifoDir, '--snapshotter', this.snapshotter];
  }

  importImage(archive: string): CmdResult {
    return this.ctr(['images', 'import', '--snapshotter', this.snapshotter, archive]);
  }

  /** Status of a task per `ctr task ls` (RUNNING, STOPPED, ...), or null. */
  taskStatus(id: string): { pid: number; status: string } | null {
    const r = this.ctr(['task', 'ls']);
    for (const l of r.stdout.split('\n')) {
      const w = l.trim().split(/\s+/);
      if (w[0] === id) return { pid: Number(w[1]), status: w[2] };
    }
    return null;
  }

  logTail(lines = 60): string {
    try {
      return `--- ${this.logFile} (last ${lines} lines)\n${readFileSync(this.logFile, 'utf8').split('\n').slice(-lines - 1).join('\n')}`;
    } catch {
      return '(no containerd log)';
    }
  }

  /** Kills and deletes every task, removes containers and images, stops containerd and removes everything. */
  async stop(): Promise<void> {
    if (this.proc && !this.exited) {
      const tasks = this.ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean);
      for (const t of tasks) {
        this.ctr(['task', 'kill', '-a', '-s', 'SIGKILL', t]);
        await waitFor(() => this.taskStatus(t)?.status !== 'RUNNING', 10_000);
        this.ctr(['task', 'delete', '--force', t]);
      }
      for (const c of this.ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['containers', 'rm', c]);
      for (const i of this.ctr(['images', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['images', 'rm', '--sync', i]);
      this.proc.kill('SIGTERM');
      if (!(await waitFor(() => this.exited, 15_000))) this.proc.kill('SIGKILL');
      await waitFor(() => this.exited, 5_000);
    }
    // Shims left behind (each is started with "-address <our socket>").
    for (const pid of alive(pidsMatching('containerd-shim', this.sock))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    // Containers left in the runtimes' state directories.
    for (const w of [this.tsrun, this.runc]) {
      if (!w) continue;
      const root = this.stateDir(w);
      for (const id of stateEntries(root)) run(w.target, ['--root', root, 'delete', '--force', id]);
    }
    unmountUnder(this.dir);
    removeCgroupTree(this.ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
