// containerd-shim-tsrun-v2: the shim binary containerd runs for the runtime
// type io.containerd.tsrun.v2. Commands, as containerd's shim contract has
// them (flags before the command, Go flag syntax):
//   start   print the address of the shim serving this namespace, starting
//           one (a detached process of this program) if none is running
//   delete  clean up a container whose shim is gone: kill and delete it,
//           unmount its rootfs, print a DeleteResponse (protobuf) on stdout
//   (none)  serve: the long-lived shim (started by `start`)
// bin/containerd-shim-tsrun-v2 answers `start` itself, without Node, when a
// live shim is already serving.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import { basename, join } from 'node:path';
import { NotFoundError } from '../errors';
import { Runtime } from '../runtime/runtime';
import { writeFileAtomic } from '../sys/atomic-file';
import { withLockFile } from '../sys/lock-file';
import { procStat } from '../sys/proc';
import { CgroupPrimer } from './cgroup-primer';
import { Publisher } from './events';
import { mkfifo } from '../sys/libc';
import { encode, T, timestamp } from './proto';
import { unmountRootfs } from './rootfs';
import { TaskService } from './service';
import { shimPaths, type ShimPaths } from './paths';
import { TtrpcServer } from './ttrpc';

export const VERSION = '0.1.0';

export interface ShimFlags {
  namespace: string;
  id: string;
  address: string;
  publishBinary: string;
  bundle: string;
  socket: string;
  debug: boolean;
  version: boolean;
  action: string;
}

const STRING_FLAGS: Record<string, keyof ShimFlags> = {
  namespace: 'namespace',
  id: 'id',
  address: 'address',
  'publish-binary': 'publishBinary',
  bundle: 'bundle',
  socket: 'socket',
};
const BOOL_FLAGS: Record<string, keyof ShimFlags> = { debug: 'debug', v: 'version' };

/** Go's flag package: -f v, -f=v, --f v; bool flags take no separate value;
 * parsing stops at the first non-flag word (the command). */
export function parseFlags(argv: string[]): ShimFlags {
  const f: ShimFlags = { namespace: '', id: '', address: '', publishBinary: 'containerd', bundle: '', socket: '', debug: false, version: false, action: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      f.action = argv[i + 1] ?? '';
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      f.action = a;
      break;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (name in BOOL_FLAGS) {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      (f as unknown as Record<string, unknown>)[BOOL_FLAGS[name]!] = v === 'true' || v === '1' || v === 't' || v === 'T' || v === 'TRUE' || v === 'True';
      continue;
    }
    const key = STRING_FLAGS[name];
    if (!key) throw new Error(`flag provided but not defined: -${name}`);
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${name}`);
      v = argv[++i]!;
    }
    (f as unknown as Record<string, unknown>)[key] = v;
  }
  return f;
}

function logger(debug: boolean): { log: (m: string) => void; debug: (m: string) => void } {
  const line = (level: string, m: string) => {
    try {
      process.stderr.write(`time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(m)} pid=${process.pid}\n`);
    } catch {
      // nowhere to log
    }
  };
  return { log: (m) => line('warning', m), debug: debug ? (m) => line('debug', m) : () => {} };
}

export async function main(argv: string[]): Promise<number> {
  let f: ShimFlags;
  try {
    f = parseFlags(argv);
  } catch (e) {
    process.stderr.write(`containerd-shim-tsrun-v2: ${(e as Error).message}\n`);
    return 2;
  }
  if (f.version) {
    process.stdout.write(`containerd-shim-tsrun-v2:\n  Version:  ${VERSION}\n  Runtime:  tsrun (in-process)\n`);
    return 0;
  }
  if (!f.namespace) {
    process.stderr.write('containerd-shim-tsrun-v2: shim namespace cannot be empty\n');
    return 1;
  }
  try {
    switch (f.action) {
      case 'start':
        process.stdout.write(await startShim(f));
        return 0;
      case 'delete':
        process.stdout.write(await deleteContainer(f));
        return 0;
      case '':
      case 'serve':
        await serve(f);
        return 0;
      default:
        process.stderr.write(`containerd-shim-tsrun-v2: unknown command ${f.action}\n`);
        return 1;
    }
  } catch (e) {
    process.stderr.write(`containerd-shim-tsrun-v2: ${(e as Error).message}\n`);
    return 1;
  }
}

// ---- start ----

function canConnect(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection(path);
    const t = setTimeout(() => {
      s.destroy();
      res(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      res(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      res(false);
    });
  });
}

/** A lock file naming its owner; a dead owner's lock is broken. */
function withShimLock<R>(path: string, fn: () => Promise<R>, timeoutMs = 30000): Promise<R> {
  return withLockFile(path, fn, { timeoutMs, busy: () => new Error(`timed out waiting for ${path}`), retryMs: () => 10 });
}

/** The address of the namespace's shim, started if need be. */
export async function startShim(f: ShimFlags): Promise<string> {
  const p = shimPaths(f.address, f.namespace);
  mkdirSync(p.dir, { recursive: true, mode: 0o711 });
  const address = `unix://${p.socket}`;
  await withShimLock(p.lock, async () => {
    if (await canConnect(p.socket)) return;
    try {
      unlinkSync(p.socket);
    } catch {
      // none
    }
    const args = ['-namespace', f.namespace, '-id', f.id, '-address', f.address, '-publish-binary', f.publishBinary, ...(f.debug ? ['-debug'] : [])];
    const log = openSync(p.log, 'a', 0o600);
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
      detached: true,
      stdio: ['ignore', 'ignore', log],
      cwd: '/',
      env: process.env,
    });
    closeSync(log);
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    child.on('error', () => (exited = -1));
    child.unref();
    const deadline = Date.now() + 20000;
    while (!(await canConnect(p.socket, 500))) {
      if (exited !== undefined) throw new Error(`the shim exited (${exited}) before serving; see ${p.log}`);
      if (Date.now() > deadline) throw new Error(`the shim did not come up; see ${p.log}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  });
  announce(p, process.cwd(), f.id);
  // Read by containerd when it reconnects after a restart.
  writeFileAtomic('address', address);
  return address;
}

/** As the launcher does: tell the shim which container is coming (see listenForHints). */
function announce(p: ShimPaths, bundle: string, id: string): void {
  if (!id || /[\t\n]/.test(bundle + id)) return;
  try {
    const fd = openSync(p.hint, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeSync(fd, `${bundle}\t${id}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // no hint FIFO (yet): the shim prepares when Create comes
  }
}

// ---- delete ----

/** After the shim is gone: kill and remove the container, unmount its rootfs. */
export async function deleteContainer(f: ShimFlags): Promise<Buffer> {
  const p = shimPaths(f.address, f.namespace);
  const bundle = f.bundle || process.cwd();
  const rt = new Runtime({ root: p.stateRoot });
  let pid = 0;
  try {
    pid = rt.stored(f.id).pid;
  } catch {
    // gone already
  }
  try {
    await rt.delete(f.id, true);
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  unmountRootfs(join(bundle, 'rootfs'));
  if (existsSync(p.pidFile)) await withShimLock(p.lock, async () => removeStaleShimFiles(p), 5000).catch(() => {});
  // As containerd's runc shim: the process was (or is taken as) killed.
  return encode(T.DeleteResponse, { pid, exit_status: 128 + 9, exited_at: timestamp(Date.now()) });
}

/** The launcher's announcements of containers about to be created: lines
 * "<bundle>\t<id>" on a FIFO we keep open read-write (so the launcher's
 * open never blocks, and we never see EOF). */
function listenForHints(p: ShimPaths, onHint: (bundle: string, id: string) => void, log: (m: string) => void): { close(): void } | undefined {
  try {
    try {
      unlinkSync(p.hint);
    } catch {
      // none
    }
    mkfifo(p.hint, 0o600);
    const fd = openSync(p.hint, constants.O_RDWR);
    const s = new Socket({ fd, readable: true, writable: false });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [bundle, id] = buf.slice(0, nl).split('\t');
        buf = buf.slice(nl + 1);
        if (bundle && id) onHint(bundle, id);
      }
      if (buf.length > 65536) buf = '';
    });
    s.on('error', () => {});
    return {
      close: () => {
        s.destroy();
        try {
          unlinkSync(p.hint);
        } catch {
          // gone
        }
      },
    };
  } catch (e) {
    log(`no start hints: ${(e as Error).message}`);
    return undefined;
  }
}

/** A dead shim's pid file, socket and hint FIFO (the next `start` would replace them anyway). */
function removeStaleShimFiles(p: ShimPaths): void {
  let pid = 0;
  let start = 0;
  try {
    [pid, start] = readFileSync(p.pidFile, 'utf8').split(' ').map(Number) as [number, number];
  } catch {
    return;
  }
  const s = procStat(pid);
  if (s && s.startTime === start && s.state !== 'Z') return;
  for (const f of [p.pidFile, p.socket, p.hint]) {
    try {
      unlinkSync(f);
    } catch {
      // gone
    }
  }
}

// ---- serve ----

const IDLE_MS = Number(process.env.TSRUN_SHIM_IDLE_MS ?? 600_000);
const RETIRE_GRACE_MS = 1000;

function writePidFile(p: ShimPaths, f: ShimFlags): void {
  // A name too long for the file system: no fast path, `start` goes through Node.
  if (basename(p.pidFile).length > 255 || /\n/.test(f.address + f.namespace)) return;
  writeFileAtomic(p.pidFile, `${process.pid} ${procStat(process.pid)?.startTime ?? 0} ${p.socket}\n${f.address}\n${f.namespace}\n`);
}

function removePidFileIfOurs(p: ShimPaths): void {
  try {
    if (Number(readFileSync(p.pidFile, 'utf8').split(' ')[0]) === process.pid) unlinkSync(p.pidFile);
  } catch {
    // gone
  }
}

export async function serve(f: ShimFlags): Promise<void> {
  const { log, debug } = logger(f.debug || !!process.env.TSRUN_SHIM_DEBUG);
  const p = shimPaths(f.address, f.namespace);
  mkdirSync(p.dir, { recursive: true, mode: 0o711 });
  mkdirSync(p.stateRoot, { recursive: true, mode: 0o711 });
  process.on('uncaughtException', (e) => log(`uncaught: ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? e}`));
  for (const sig of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(sig, () => {});

  const runtime = new Runtime({ root: p.stateRoot, warn: (m) => debug(`tsrun: ${m}`) });
  const publisher = new Publisher({
    namespace: f.namespace,
    // TSRUN_SHIM_EVENTS=binary: always through -publish-binary.
    ttrpcAddress: process.env.TSRUN_SHIM_EVENTS === 'binary' ? undefined : process.env.TTRPC_ADDRESS,
    publishBinary: f.publishBinary,
    address: f.address,
    log,
  });
  const server = new TtrpcServer();
  server.onError = (e, ctx) => log(`${ctx.method}: ${(e as Error)?.stack ?? e}`);

  let idleTimer: NodeJS.Timeout | undefined;
  let retiring = false;
  const busy = () => service.containers.size > 0 || server.connections > 0;
  const reconsider = () => {
    if (busy()) {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
      if (retiring) {
        retiring = false;
        writePidFile(p, f);
      }
    } else if (!idleTimer && !retiring) {
      idleTimer = setTimeout(() => void retire(), IDLE_MS);
    }
  };
  const exit = async (code: number) => {
    removePidFileIfOurs(p);
    hints?.close();
    await Promise.race([service.settled(), new Promise((r) => setTimeout(r, 10000))]);
    server.close();
    try {
      unlinkSync(p.socket);
    } catch {
      // gone
    }
    await Promise.race([publisher.flush(), new Promise((r) => setTimeout(r, 2000))]);
    publisher.close();
    // Leave nothing behind that a next shim would not make again.
    try {
      rmdirSync(p.stateRoot);
    } catch {
      // containers left (a restarted shim adopts them) or gone
    }
    try {
      if (statSync(p.log).size === 0) unlinkSync(p.log);
    } catch {
      // none
    }
    process.exit(code);
  };
  // Idle for IDLE_MS: stop being found, give a racing `start` a moment to connect, then go.
  const retire = async () => {
    idleTimer = undefined;
    if (busy()) return;
    retiring = true;
    removePidFileIfOurs(p);
    await new Promise((r) => setTimeout(r, RETIRE_GRACE_MS));
    if (!retiring) return;
    if (busy()) {
      retiring = false;
      writePidFile(p, f);
      return;
    }
    debug('idle: exiting');
    await exit(0);
  };

  const primer = process.env.TSRUN_SHIM_NO_PRIME ? undefined : new CgroupPrimer(log);
  const service = new TaskService({
    runtime,
    publisher,
    consoleDir: p.dir,
    log,
    debug,
    primer,
    onCount: () => reconsider(),
  });
  service.register(server);
  server.onConnectionChange = () => reconsider();

  try {
    unlinkSync(p.socket);
  } catch {
    // none
  }
  const hints = primer ? listenForHints(p, (bundle, id) => service.prepare(id, bundle), log) : undefined;
  await server.listen(p.socket);
  chmodSync(p.socket, 0o600);
  writePidFile(p, f);
  const adopted = service.adopt();
  if (adopted.length) log(`adopted ${adopted.length} container(s) from ${p.stateRoot}: ${adopted.join(' ')}`);
  debug(`serving on ${p.socket}`);
  process.on('SIGTERM', () => void exit(0));
  reconsider();
  await new Promise<never>(() => {});
}
