// Attacks on tsrun's own files and inherited fds (the security issue's
// state-root, pid-file, preserve-fds and locking findings). Each test
// performs the attack; it must fail against a runtime that is open to it.
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostLeftovers, REPO, Sandbox, TSRUN, type Result } from './helpers';
import { procStat } from '../src/sys/proc';

const sb = new Sandbox('attacks-state');
const OTHER_UID = 1234;

afterAll(() => sb.cleanup());

/** `tsrun --root <root> ...args`, for roots other than the sandbox's own. */
function tsrunAt(root: string, args: string[]): Result {
  const r = spawnSync(TSRUN, ['--root', root, ...args], { encoding: 'utf8', input: '', timeout: 20000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A state.json as tsrun writes it, for a stopped container whose poststop
 * hook records that it ran (and as whom). */
function plantedState(marker: string): string {
  return JSON.stringify({
    ociVersion: '1.2.0',
    id: 'web',
    pid: 0,
    pidStartTime: 0,
    bundle: '/',
    rootfs: '/',
    created: new Date().toISOString(),
    phase: 'created',
    cgroupPath: '',
    owner: OTHER_UID,
    config: { ociVersion: '1.2.0', hooks: { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `id -u > ${marker}`] }] } },
  });
}

/** A state root holding container "web", as an attacker would leave it. */
function plantRoot(name: string, marker: string): string {
  const root = join(sb.dir, name);
  mkdirSync(join(root, 'web'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'web', 'state.json'), plantedState(marker));
  return root;
}

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else chownSync(p, uid, uid);
  }
}

/** `tsrun ...args` whose container processes get no pipes to hold open
 * (they keep the stdio they are given): stderr goes through a file. */
function quiet(args: string[]): Result {
  const errFile = join(sb.dir, `quiet-${sb.id()}.stderr`);
  const err = openSync(errFile, 'w');
  const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', 'ignore', err], timeout: 20000 });
  closeSync(err);
  return { code: r.status ?? -1, stdout: '', stderr: readFileSync(errFile, 'utf8') };
}

function errorLines(r: Result): string[] {
  return r.stderr.split('\n').filter(Boolean);
}

/** delete, state and list of the planted container: each refused with one line matching `why`. */
function expectRefused(root: string, marker: string, why: RegExp): void {
  for (const args of [['delete', 'web'], ['delete', '--force', 'web'], ['state', 'web'], ['list'], ['kill', 'web', 'KILL']]) {
    const r = tsrunAt(root, args);
    expect(r.code, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
    expect(errorLines(r), args.join(' ')).toHaveLength(1);
    expect(r.stderr, args.join(' ')).toMatch(why);
    expect(r.stdout, args.join(' ')).not.toContain('web');
  }
  expect(existsSync(marker), 'the planted poststop hook ran').toBe(false);
}

describe('a state root another user could plant or change', () => {
  it('a root owned by another uid is refused by delete, state, list and kill; its hook never runs', () => {
    const marker = join(sb.dir, 'pwned-owner');
    const root = plantRoot('planted-owner', marker);
    chownTree(root, OTHER_UID);
    expectRefused(root, marker, new RegExp(`state directory ${root} is owned by uid ${OTHER_UID}, not by you \\(uid 0\\): refusing to use it`));
  });

  it('a group-writable root is refused', () => {
    const marker = join(sb.dir, 'pwned-mode');
    const root = plantRoot('planted-mode', marker);
    chmodSync(root, 0o775);
    expectRefused(root, marker, new RegExp(`state directory ${root} is writable by its group or others \\(mode 0775\\): refusing to use it`));
  });

  it('a symlinked root is refused', () => {
    const marker = join(sb.dir, 'pwned-link');
    const real = plantRoot('planted-link-target', marker);
    chmodSync(real, 0o711);
    const link = join(sb.dir, 'planted-link');
    symlinkSync(real, link);
    expectRefused(link, marker, new RegExp(`state directory ${link} is a symbolic link: refusing to use it`));
  });

  it('a container directory owned by another uid inside our own root is refused', () => {
    const marker = join(sb.dir, 'pwned-dir');
    const root = plantRoot('planted-dir', marker);
    chmodSync(root, 0o711);
    chownTree(join(root, 'web'), OTHER_UID);
    for (const args of [['delete', 'web'], ['state', 'web']]) {
      const r = tsrunAt(root, args);
      expect(r.code).not.toBe(0);
      expect(errorLines(r)).toHaveLength(1);
      expect(r.stderr).toMatch(`container directory ${join(root, 'web')} is owned by uid ${OTHER_UID}, not by you (uid 0): refusing to use it`);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('a state.json that is a symlink, or owned by another uid, or group-writable is refused', () => {
    const marker = join(sb.dir, 'pwned-file');
    const root = plantRoot('planted-file', marker);
    chmodSync(root, 0o711);
    const file = join(root, 'web', 'state.json');
    const elsewhere = join(sb.dir, 'elsewhere.json');
    writeFileSync(elsewhere, plantedState(marker));
    const cases: [() => void, string][] = [
      [() => (unlinkSync(file), symlinkSync(elsewhere, file)), `state file ${file} is a symbolic link: refusing to use it`],
      [() => (unlinkSync(file), writeFileSync(file, plantedState(marker)), chownSync(file, OTHER_UID, OTHER_UID)), `state file ${file} is owned by uid ${OTHER_UID}, not by you (uid 0): refusing to use it`],
      [() => (chownSync(file, 0, 0), chmodSync(file, 0o666)), `state file ${file} is writable by its group or others (mode 0666): refusing to use it`],
    ];
    for (const [plant, why] of cases) {
      plant();
      for (const args of [['delete', 'web'], ['state', 'web']]) {
        const r = tsrunAt(root, args);
        expect(r.code).not.toBe(0);
        expect(errorLines(r)).toHaveLength(1);
        expect(r.stderr).toContain(why);
      }
    }
    expect(existsSync(marker)).toBe(false);
  });

  it('a root tsrun creates itself (mkdir -p, default umask) and the Sandbox root keep working', () => {
    const root = join(sb.dir, 'fresh', 'a', 'b');
    const r = spawnSync('sh', ['-c', `umask 022; exec ${TSRUN} --root ${root} run --bundle ${sb.bundle(['true'])} ${sb.id()}`], { encoding: 'utf8', timeout: 20000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(root).mode & 0o7777).toBe(0o711);
    const id = sb.id();
    expect(quiet(['create', '--bundle', sb.bundle(['true']), id]).code).toBe(0);
    expect(sb.tsrun(['state', id]).code).toBe(0);
    expect(sb.tsrun(['list', '-q']).stdout).toContain(id);
    expect(sb.tsrun(['delete', id]).code).toBe(0);
  });
});

describe('the rootless default root /tmp/tsrun-<uid>, planted by another local user', () => {
  const VICTIM = 'tsrun-sa-victim';
  const ATTACKER = 'tsrun-sa-attacker';
  let victimUid = 0;
  let app = '';
  let drop = '';

  function ensureUser(name: string): number {
    if (spawnSync('id', ['-u', name]).status !== 0) {
      const r = spawnSync('useradd', ['-M', '-s', '/bin/sh', name], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
    }
    return Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  }

  function as(name: string, cmd: string[], input = '') {
    const r = spawnSync('runuser', ['-u', name, '--', 'env', '-u', 'XDG_RUNTIME_DIR', ...cmd], { encoding: 'utf8', input, timeout: 20000, cwd: '/' });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  beforeAll(() => {
    victimUid = ensureUser(VICTIM);
    ensureUser(ATTACKER);
    // A copy of the built runtime the victim can run (the checkout may be private).
    app = mkdtempSync('/tmp/tsrun-sa-app-');
    for (const part of ['bin', 'cmd/launch.cjs', 'dist', 'native/build', 'node_modules/koffi']) {
      cpSync(join(REPO, part), join(app, part), { recursive: true, verbatimSymlinks: true });
    }
    spawnSync('chmod', ['-R', 'a+rX', app]);
    drop = mkdtempSync('/tmp/tsrun-sa-drop-');
    chmodSync(drop, 0o1777);
    rmSync(`/tmp/tsrun-${victimUid}`, { recursive: true, force: true });
  });
  afterAll(() => {
    rmSync(`/tmp/tsrun-${victimUid}`, { recursive: true, force: true });
    rmSync(app, { recursive: true, force: true });
    rmSync(drop, { recursive: true, force: true });
  });

  it("the victim's delete, state and list refuse the attacker's directory; the attacker's hook never runs as the victim", () => {
    const root = `/tmp/tsrun-${victimUid}`;
    const marker = join(drop, 'ran-as');
    // World-writable, so that the victim's tsrun can take its lock there.
    const planted = as(ATTACKER, ['sh', '-c', `mkdir -m 0777 ${root} ${root}/web && cat > ${root}/web/state.json`], plantedState(marker));
    expect(planted.code, planted.stderr).toBe(0);
    const attackerUid = lstatSync(root).uid;
    for (const args of [['delete', 'web'], ['state', 'web'], ['list']]) {
      const r = as(VICTIM, [join(app, 'bin/tsrun'), ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
      expect(errorLines(r)).toHaveLength(1);
      expect(r.stderr).toContain(`state directory ${root} is owned by uid ${attackerUid}, not by you (uid ${victimUid}): refusing to use it`);
    }
    expect(existsSync(marker), 'the attacker\'s poststop hook ran as the victim').toBe(false);
  });
});

describe('--pid-file', () => {
  /** The next pids the kernel will hand out in our pid namespace (roughly: other processes race us). */
  function nextPids(count: number): number[] {
    const last = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    // The kernel wraps around to 300 (below are reserved): so do we, without repeats.
    const out = new Set<number>();
    for (let i = 0; out.size < count && i < count * 2; i++) {
      const pid = (last + 1 + i) % max;
      out.add(pid < 300 ? 300 + pid : pid);
    }
    return [...out];
  }

  it('a symlink planted at a temporary name next to the pid file is never written through', () => {
    const dir = join(sb.dir, 'pid-plant');
    mkdirSync(dir);
    const victim = join(sb.dir, 'victim-file');
    writeFileSync(victim, 'original\n');
    // tsrun used to write `.<its pid>.tmp` with O_TRUNC, following symlinks.
    for (const pid of nextPids(3000)) symlinkSync(victim, join(dir, `.${pid}.tmp`));
    const pidFile = join(dir, 'pid');
    const id = sb.id();
    const r = sb.tsrun(['run', '--pid-file', pidFile, '--bundle', sb.bundle(['true']), id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('original\n');
    expect(readFileSync(pidFile, 'utf8')).toMatch(/^\d+$/);
    expect(lstatSync(pidFile).isFile()).toBe(true);
    // Nothing of ours left next to it: only the planted links and the pid file.
    expect(readdirSync(dir).filter((n) => !/^\.\d+\.tmp$/.test(n))).toEqual(['pid']);
  });

  it('a pid file path that is a symlink to a host file is replaced, not written through', () => {
    const victim = join(sb.dir, 'victim-file-2');
    writeFileSync(victim, 'original\n');
    const pidFile = join(sb.dir, 'pid-link');
    symlinkSync(victim, pidFile);
    const id = sb.id();
    const r = quiet(['create', '--pid-file', pidFile, '--bundle', sb.bundle(['true']), id]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sb.tsrun(['delete', id]).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('original\n');
    expect(lstatSync(pidFile).isFile()).toBe(true);
  });

  it('in a missing directory: create, run and exec fail with one clear line and leave nothing behind', () => {
    const pidFile = '/non-existent-tsrun-dir/pid';
    const why = `cannot write the pid file ${pidFile}: no such file or directory (ENOENT)`;
    for (const cmd of ['create', 'run']) {
      const id = sb.id();
      const args = ['--pid-file', pidFile, '--bundle', sb.bundle(['sleep', '100']), id];
      const r = quiet([cmd, ...args]);
      expect(r.code, cmd).not.toBe(0);
      expect(errorLines(r), cmd).toEqual([expect.stringContaining(why)]);
      expect(existsSync(join(sb.root, id)), `${cmd}: state directory left`).toBe(false);
      expect(hostLeftovers(id), cmd).toEqual([]);
    }
    const id = sb.id();
    expect(sb.runDetached(sb.bundle(['sleep', '100']), id).code).toBe(0);
    try {
      const before = sb.tsrun(['ps', '--format', 'json', id]).stdout;
      const r = quiet(['exec', '--pid-file', pidFile, id, 'sleep', '100']);
      expect(r.code).not.toBe(0);
      expect(errorLines(r)).toEqual([expect.stringContaining(why)]);
      expect(sb.tsrun(['ps', '--format', 'json', id]).stdout, 'an exec\'d process was left running').toBe(before);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
  });
});

describe('--preserve-fds beyond what the caller passed', () => {
  /** tsrun with stdin /dev/null, stdout and stderr to files, and `extra` as fds 3, 4, ... */
  function withFiles(args: string[], extra: number[] = [], env: NodeJS.ProcessEnv = process.env): Result {
    const out = join(sb.dir, `${sb.id()}.out`);
    const err = join(sb.dir, `${sb.id()}.err`);
    const o = openSync(out, 'w');
    const e = openSync(err, 'w');
    try {
      const r = spawnSync(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', o, e, ...extra], timeout: 20000, env });
      return { code: r.status ?? -1, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      closeSync(o);
      closeSync(e);
    }
  }

  // A hook makes tsrun start the init from Node (not the early init), the
  // path that used to hand Node's own fds on.
  const withHook = (args: string[]) => sb.bundle(args, (s) => (s.hooks = { prestart: [{ path: '/bin/true' }] }));

  it("Node's own fds (epoll, eventfd, pipes) never reach the container; the command is refused before anything exists", () => {
    for (const env of [process.env, { ...process.env, TSRUN_NO_EARLY_INIT: '1' }]) {
      for (const bundle of [withHook(['ls', '-l', '/proc/self/fd']), sb.bundle(['ls', '-l', '/proc/self/fd'])]) {
        const id = sb.id();
        const r = withFiles(['run', '--preserve-fds', '10', '--bundle', bundle, id], [], env);
        expect(r.stdout).not.toMatch(/eventpoll|eventfd|pipe:|socket:|anon_inode/);
        expect(r.code).not.toBe(0);
        expect(errorLines(r)).toEqual([expect.stringContaining('--preserve-fds 10 asks to pass on fds 3-12, but fd 3 was not passed to tsrun')]);
        expect(existsSync(join(sb.root, id))).toBe(false);
        expect(hostLeftovers(id)).toEqual([]);
      }
    }
  });

  it('one fd too many is refused too; exactly what was passed still works', () => {
    const f = join(sb.dir, 'preserved-2');
    writeFileSync(f, 'data\n');
    const fd = openSync(f, 'r');
    try {
      const over = withFiles(['run', '--preserve-fds', '2', '--bundle', withHook(['true']), sb.id()], [fd]);
      expect(over.code).not.toBe(0);
      expect(errorLines(over)).toEqual([expect.stringContaining('--preserve-fds 2 asks to pass on fds 3-4, but fd 4 was not passed to tsrun')]);
      const ok = withFiles(['run', '--preserve-fds', '1', '--bundle', withHook(['sh', '-c', 'ls /proc/$$/fd; cat <&3']), sb.id()], [fd]);
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(ok.stdout.split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3', 'data']);
    } finally {
      closeSync(fd);
    }
  });

  it('exec --preserve-fds is checked the same way', () => {
    const id = sb.id();
    expect(sb.runDetached(sb.bundle(['sleep', '100']), id).code).toBe(0);
    try {
      const r = withFiles(['exec', '--preserve-fds', '5', id, 'ls', '-l', '/proc/self/fd']);
      expect(r.stdout).not.toMatch(/eventpoll|eventfd|pipe:|socket:|anon_inode/);
      expect(r.code).not.toBe(0);
      expect(errorLines(r)).toEqual([expect.stringContaining('--preserve-fds 5 asks to pass on fds 3-7, but fd 3 was not passed to tsrun')]);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
  });
});

describe("commands wait for the container's lock", () => {
  /** Holds `id`'s lock as a live tsrun would (our own pid and start time). */
  function holdLock(id: string): () => void {
    const lock = join(sb.root, id, '.lock');
    writeFileSync(lock, `${process.pid} ${procStat(process.pid)!.startTime}`, { flag: 'wx', mode: 0o600 });
    return () => unlinkSync(lock);
  }

  /** Starts `tsrun args`; resolves with its result once it exits. */
  function start(args: string[]) {
    const child = spawn(TSRUN, ['--root', sb.root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let done = false;
    const result = new Promise<Result>((resolve) =>
      child.on('close', (code) => {
        done = true;
        resolve({ code: code ?? -1, stdout, stderr });
      }),
    );
    return { result, running: () => !done };
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  for (const args of [['state'], ['kill', '--all', '#', 'KILL'], ['exec', '#', 'true']]) {
    it(`${args[0]} waits while another tsrun holds the lock, and goes on once it is released`, async () => {
      const id = sb.id();
      expect(sb.runDetached(sb.bundle(['sleep', '100']), id).code).toBe(0);
      try {
        const release = holdLock(id);
        const argv = args.includes('#') ? args.map((a) => (a === '#' ? id : a)) : [...args, id];
        const cmd = start(argv);
        await sleep(1500);
        const waited = cmd.running();
        release();
        const r = await cmd.result;
        expect(waited, `${args[0]} did not wait for the lock`).toBe(true);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      } finally {
        sb.tsrun(['delete', '--force', id]);
      }
    });
  }

  it('a foreground exec does not hold the lock while its process runs', async () => {
    const id = sb.id();
    expect(sb.runDetached(sb.bundle(['sleep', '100']), id).code).toBe(0);
    try {
      const exec = start(['exec', id, 'sleep', '3']);
      await sleep(1000);
      expect(exec.running()).toBe(true);
      const t0 = Date.now();
      const st = sb.tsrun(['state', id]);
      expect(st.code, st.stderr).toBe(0);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(exec.running()).toBe(true);
      expect((await exec.result).code).toBe(0);
    } finally {
      sb.tsrun(['delete', '--force', id]);
    }
  });
});
