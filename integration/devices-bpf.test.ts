// The cgroup v2 device program on the real kernel: a cgroup2 directory of our
// own, a program attached to it, and processes in it opening device nodes.
// This host's v1 devices cgroup of the test process is the root (allow all),
// so only the eBPF program restricts what they can open.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyDevicesV2,
  attachDeviceProgram,
  attachedDevicePrograms,
  DeviceProgramError,
  generateDeviceProgram,
  isCgroup2Dir,
  loadDeviceProgram,
} from '../src/cgroups/devices-bpf';
import type { CgroupLayout } from '../src/cgroups/hierarchy';
import { CgroupManager } from '../src/cgroups/manager';
import { applyResources } from '../src/cgroups/resources';

const UNIFIED = '/sys/fs/cgroup/unified';
const NAME = `tsrun-test-bpf-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const CG = join(UNIFIED, NAME);
// A sibling, not a child: programs attached to CG apply to its descendants too.
const CG_APPLY = `${CG}-apply`;
const usable = process.getuid?.() === 0 && existsSync(UNIFIED) && isCgroup2Dir(UNIFIED);

const scratch = mkdtempSync(join(tmpdir(), 'tsrun-it-bpf-'));
const children = new Set<number>();

/** Starts `sh -c script`, puts it in `cgroupDir` while it waits on stdin, then lets it go. */
async function runIn(cgroupDir: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn('sh', ['-c', `read x; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(p.pid!);
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<number | null>((r) => p.on('close', (code) => r(code)));
  writeFileSync(join(cgroupDir, 'cgroup.procs'), `${p.pid}\n`);
  expect(readFileSync(join(cgroupDir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(p.pid));
  p.stdin.end('go\n');
  const code = await done;
  children.delete(p.pid!);
  return { code, stdout, stderr };
}

function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  // Move anything left to the root (the test's own cgroup2 place) and remove the directory.
  for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
    try {
      writeFileSync(join(UNIFIED, 'cgroup.procs'), `${pid}\n`);
    } catch {
      // exited meanwhile
    }
  }
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

describe.skipIf(!usable)('eBPF device program on a real cgroup2 directory', () => {
  beforeAll(() => {
    mkdirSync(CG);
  });

  afterAll(() => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    removeCgroup(CG_APPLY);
    removeCgroup(CG);
    rmSync(scratch, { recursive: true, force: true });
    expect(existsSync(CG)).toBe(false);
    expect(existsSync(CG_APPLY)).toBe(false);
  });

  it('allows c 1:3 (/dev/null) and denies /dev/zero with EPERM', async () => {
    attachDeviceProgram(CG, generateDeviceProgram([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]));
    expect(attachedDevicePrograms(CG)).toHaveLength(1);
    const r = await runIn(CG, 'cat /dev/null && echo null-ok; head -c1 /dev/zero || echo zero-denied');
    expect(r.stdout).toBe('null-ok\nzero-denied\n');
    expect(r.stderr).toMatch(/\/dev\/zero'?[^\n]*Operation not permitted/);
    // Outside the cgroup the same open works.
    expect(spawnSync('head', ['-c1', '/dev/zero']).stdout.length).toBe(1);
  });

  it('replaces the attached program on a second attach, and honours partial access', async () => {
    const before = attachedDevicePrograms(CG);
    attachDeviceProgram(
      CG,
      generateDeviceProgram([
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
      ]),
    );
    const after = attachedDevicePrograms(CG);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
    const r = await runIn(
      CG,
      'head -c1 /dev/zero | wc -c; (echo x > /dev/zero) 2>/dev/null && echo zero-write-ok || echo zero-write-denied; echo y > /dev/null && echo null-write-ok',
    );
    expect(r.stdout.split('\n').map((l) => l.trim())).toEqual(['1', 'zero-write-denied', 'null-write-ok', '']);
  });

  it('applyResources on a pure cgroup v2 layout attaches the spec\'s rules plus the defaults', async () => {
    const layout: CgroupLayout = { mode: 'unified', hierarchies: [{ mountpoint: UNIFIED, root: '/', version: 2, controllers: [] }] };
    const mgr = new CgroupManager(layout, `/${NAME}-apply`);
    mgr.create();
    const warnings: string[] = [];
    applyResources(mgr, { devices: [{ allow: false, access: 'rwm' }] }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    const dir = CG_APPLY;
    expect(attachedDevicePrograms(dir)).toHaveLength(1);
    // Defaults: /dev/null and /dev/zero usable, mknod of any device allowed, other devices denied.
    const kmem = join(scratch, 'kmem');
    const r = await runIn(
      dir,
      `cat /dev/null && echo null-ok; head -c1 /dev/zero | wc -c; mknod ${kmem} c 1 2 && echo mknod-ok; head -c1 ${kmem} || echo kmem-denied`,
    );
    expect(r.stdout.split('\n').map((l) => l.trim()), r.stderr).toEqual(['null-ok', '1', 'mknod-ok', 'kmem-denied', '']);
    expect(r.stderr).toMatch(/kmem'?[^\n]*Operation not permitted/);
  });

  it('reports the verifier\'s answer for a program the kernel rejects', () => {
    const bad = Buffer.alloc(8); // one "r0 = 0" with no exit
    bad.writeUInt8(0xb7, 0);
    let err: unknown;
    try {
      loadDeviceProgram(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DeviceProgramError);
    expect((err as DeviceProgramError).code).toBe('EINVAL');
    expect((err as Error).message).toMatch(/BPF_PROG_LOAD\): EINVAL[\s\S]*verifier log:/);
  });

  it('fails clearly on a directory that is not a cgroup2 directory', () => {
    expect(() => attachDeviceProgram(scratch, generateDeviceProgram([]))).toThrow(/EBADF/);
    // The entry point resources.ts uses fails too: no program means no device rules.
    expect(() => applyDevicesV2(scratch, [{ allow: false, access: 'rwm' }])).toThrow(/not a cgroup2 directory/);
    expect(() => applyDevicesV2(join(UNIFIED, `${NAME}-missing`), [{ allow: false, access: 'rwm' }])).toThrow(DeviceProgramError);
  });
});
