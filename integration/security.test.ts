// Process confinement checked from inside: seccomp filters from our own
// compiler, loaded by the native init on the real kernel.
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox } from './helpers';
import type { LinuxSeccomp } from '../src/oci/types';

const sb = new Sandbox('security');
afterAll(() => sb.cleanup());

function withSeccomp(args: string[], seccomp: LinuxSeccomp, nnp = true) {
  return sb.bundle(args, (s) => {
    s.root!.readonly = false;
    s.process!.noNewPrivileges = nnp;
    s.linux!.seccomp = seccomp;
  });
}

describe('seccomp', () => {
  it('returns the configured errno for listed syscalls and allows the rest', () => {
    const b = withSeccomp(['sh', '-c', 'grep Seccomp: /proc/self/status; mkdir /tmp/d; echo mkdir=$?; chmod 700 /tmp; echo chmod=$?; echo still-running'], {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      ],
    });
    const r = sb.run(b);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Seccomp:\t2');
    expect(r.stdout).toContain('mkdir=1');
    expect(r.stderr).toMatch(/Operation not permitted/);
    expect(r.stderr).toMatch(/Permission denied/);
    expect(r.stdout).toContain('still-running');
  });

  it('kills the process with SIGSYS for SCMP_ACT_KILL_PROCESS', () => {
    const b = withSeccomp(['mkdir', '/tmp/x'], {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }],
    });
    expect(sb.run(b).code).toBe(128 + 31);
  });

  it('compares arguments: kill(pid, 0) denied, kill(pid, SIGCONT) allowed, 64-bit GT and MASKED_EQ', () => {
    const b = withSeccomp(['sh', '-c', 'kill -0 $$; echo zero=$?; kill -CONT $$; echo cont=$?; kill -USR2 $$ 2>/dev/null; echo usr2=$?'], {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] },
        // Signal numbers are never above 2^32: this rule must not match.
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0x100000000, op: 'SCMP_CMP_GE' }] },
        // SIGUSR2 is 12 = 0b1100: (sig & 0xc) == 0xc matches it.
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0xc, valueTwo: 0xc, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    const r = sb.run(b);
    expect(r.stdout).toMatch(/zero=[1-9]/);
    expect(r.stdout).toContain('cont=0');
    expect(r.stdout).toMatch(/usr2=[1-9]/);
  });

  it('an allow-list profile (default ERRNO) still lets the init execve and the program run', () => {
    const allowed = [
      'execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'mmap', 'munmap', 'mprotect',
      'read', 'write', 'writev', 'exit', 'exit_group', 'getuid', 'geteuid', 'getpid', 'getppid', 'rt_sigaction', 'rt_sigprocmask',
      'rt_sigreturn', 'ioctl', 'fcntl', 'close', 'newfstatat', 'fstat', 'stat', 'lstat', 'getcwd', 'uname', 'openat', 'open',
    ];
    const b = withSeccomp(['echo', 'allowed'], {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [{ names: allowed, action: 'SCMP_ACT_ALLOW' }],
    });
    const r = sb.run(b);
    expect(r.stdout.trim()).toBe('allowed');
    expect(r.code).toBe(0);
  });

  it('a profile written for runc (no openat2) without no_new_privs still starts: the working directory falls back to chdir(2)', () => {
    // runtime-tools' profiles are like this: the filter is loaded before the
    // identity change and the working directory, and refuses openat2 (EPERM).
    const b = sb.bundle(['sh', '-c', 'pwd'], (s) => {
      s.root!.readonly = false;
      s.process!.noNewPrivileges = false;
      s.process!.cwd = '/tmp';
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['openat2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    });
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/tmp\n');
  });

  it('a profile that does not allow close_range, without no_new_privs, still starts (fds are handled before the filter)', () => {
    const b = withSeccomp(['echo', 'started'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['close_range'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] }, false);
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('started\n');
  });

  it('without no_new_privs the filter is loaded while the init still has CAP_SYS_ADMIN, for a non-root user', () => {
    const b = sb.bundle(['sh', '-c', 'id -u; mkdir /tmp/y; echo mkdir=$?'], (s) => {
      s.root!.readonly = false;
      s.process!.noNewPrivileges = false;
      s.process!.user = { uid: 1000, gid: 1000 };
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    });
    const r = sb.run(b);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1000');
    expect(r.stdout).toContain('mkdir=1');
  });

  it('rejects an unknown action with one clear line and leaves nothing behind', () => {
    const b = sb.bundle(['true'], (s) => {
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_BOGUS' as never };
    });
    const id = sb.id();
    const r = sb.tsrun(['run', '--bundle', b, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/seccomp/);
    expect(sb.tsrun(['state', id]).code).not.toBe(0);
  });
});

describe('process attributes', () => {
  it('applies rlimits, oom_score_adj, personality, scheduler, I/O priority and CPU affinity', () => {
    const b = sb.bundle(
      [
        'sh',
        '-c',
        'ulimit -Sn; ulimit -Hn; cat /proc/self/oom_score_adj; uname -m; grep -E "^policy" /proc/self/sched; grep Cpus_allowed_list /proc/self/status',
      ],
      (s) => {
        s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 256, hard: 512 }];
        s.process!.oomScoreAdj = 123;
        s.linux!.personality = { domain: 'LINUX32' };
        s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 5 };
        s.process!.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 0 };
        s.process!.execCPUAffinity = { final: '0' };
      },
    );
    const r = sb.run(b);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('256');
    expect(lines[1]).toBe('512');
    expect(lines[2]).toBe('123');
    expect(lines[3]).toMatch(/^i[3-6]86$/);
    expect(r.stdout).toMatch(/policy\s*:\s*3/); // SCHED_BATCH
    expect(r.stdout).toMatch(/Cpus_allowed_list:\s*0$/m);
  });

  it('refuses a host-wide sysctl and an AppArmor profile on a host without AppArmor, leaving nothing', () => {
    for (const mutate of [
      (s: import('../src/oci/types').Spec) => (s.linux!.sysctl = { 'kernel.panic': '1' }),
      (s: import('../src/oci/types').Spec) => (s.process!.apparmorProfile = 'tsrun-test'),
    ]) {
      const id = sb.id();
      const r = sb.tsrun(['run', '--bundle', sb.bundle(['true'], mutate), id]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/kernel.panic|AppArmor/);
      expect(sb.tsrun(['state', id]).code).not.toBe(0);
    }
  });

  it('a rlimit above what the host allows is one clear error naming it', () => {
    const b = sb.bundle(['true'], (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }]));
    const r = sb.tsrun(['run', '--bundle', b, sb.id()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/RLIMIT_NOFILE.*(operation not permitted|invalid argument)/);
  });
});

describe('seccomp notify', () => {
  it('sends the listener fd and the container state to the agent at listenerPath', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const { readFileSync, existsSync } = await import('node:fs');
    const sock = join(sb.dir, 'agent.sock');
    const out = join(sb.dir, 'agent.json');
    // A minimal agent: accept, receive the message and one fd, describe the fd,
    // then close it (notified syscalls then fail with ENOSYS).
    const agent = spawn('python3', [
      '-c',
      `
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 65536, 4)
info = json.loads(msg)
info['fdkind'] = os.readlink('/proc/self/fd/%d' % fds[0])
open(sys.argv[2], 'w').write(json.dumps(info))
for fd in fds: os.close(fd)
`,
      sock,
      out,
    ]);
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    const id = sb.id();
    const b = withSeccomp(['sh', '-c', 'sleep 0.5; mkdir /tmp/n; echo rc=$?'], {
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: sock,
      listenerMetadata: 'tsrun-test-metadata',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    });
    const r = sb.tsrun(['run', '--bundle', b, id]);
    await new Promise<void>((r) => (agent.exitCode !== null ? r() : agent.on('exit', () => r())));
    expect(r.stderr).not.toMatch(/tsrun/);
    expect(r.stderr).toMatch(/mkdir/);
    expect(r.stdout).toMatch(/rc=[1-9]/);
    const info = JSON.parse(readFileSync(out, 'utf8'));
    expect(info.fds).toEqual(['seccompFd']);
    expect(info.metadata).toBe('tsrun-test-metadata');
    expect(info.pid).toBeGreaterThan(0);
    expect(info.state.id).toBe(id);
    expect(info.fdkind).toMatch(/seccomp/);
  });

  it('refuses SCMP_ACT_NOTIFY without a listenerPath', () => {
    const b = withSeccomp(['true'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] });
    const r = sb.tsrun(['run', '--bundle', b, sb.id()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/listenerPath/);
  });
});
