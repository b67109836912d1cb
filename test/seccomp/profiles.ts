// A large, realistic profile for the tests, in the style of Docker's default seccomp profile:
// default EPERM, a long allow-list (including 32-bit-only and other-arch names, which must be
// skipped silently), and a few rules with argument conditions.

import type { LinuxSeccomp, LinuxSyscall } from '../../src/oci/types';

export { DEFAULT_ALLOWED as ALLOWED } from '../../src/seccomp/default-profile';
import { DEFAULT_ALLOWED as ALLOWED } from '../../src/seccomp/default-profile';

export function dockerLikeProfile(): LinuxSeccomp {
  const syscalls: LinuxSyscall[] = [
    { names: [...ALLOWED], action: 'SCMP_ACT_ALLOW' },
    { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: 'SCMP_ACT_ALLOW' },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
    ...[0, 8, 131072, 131080, 4294967295].map(
      (v): LinuxSyscall => ({
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }],
      }),
    ),
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    // Not in the allow-list above, so these never change the outcome: redundant with the default.
    { names: ['kexec_load', 'open_by_handle_at', 'bpf'], action: 'SCMP_ACT_ERRNO' },
  ];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls,
  };
}

/** Small profiles exercising most features at once, for the differential tests. */
export const MIXED_SPECS: [string, LinuxSeccomp][] = [
  [
    'mixed rules, all arches',
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
      syscalls: [
        { names: ['read', 'write', 'close', 'socket', 'recv', 'semop'], action: 'SCMP_ACT_ALLOW' },
        { names: ['ioctl', 'bind'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x1_0000_0009, op: 'SCMP_CMP_LE' }] },
        { names: ['ioctl'], action: 'SCMP_ACT_TRAP', args: [{ index: 1, value: 0xffffffff, op: 'SCMP_CMP_GT' }] },
        { names: ['kill', 'connect'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 8, op: 'SCMP_CMP_NE' }, { index: 1, value: 9, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xff_0000_00ff, valueTwo: 9, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['mount', 'umount2', 'shmget'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['openat'], action: 'SCMP_ACT_ERRNO', errnoRet: 2, args: [{ index: 2, value: 3, op: 'SCMP_CMP_LT' }, { index: 2, value: 9, op: 'SCMP_CMP_GE' }] },
        { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['getpid'], action: 'SCMP_ACT_ERRNO' },
      ],
    },
  ],
  [
    'allow by default',
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86'],
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 40, op: 'SCMP_CMP_EQ' }] },
        { names: ['personality'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 8, op: 'SCMP_CMP_GE' }] },
        { names: ['ptrace', 'msgget'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
      ],
    },
  ],
];
