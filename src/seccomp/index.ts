// Seccomp: compile linux.seccomp from config.json into a BPF program for seccomp(2).
export {
  AUDIT_ARCH,
  SECCOMP_FILTER_FLAG,
  SECCOMP_RET,
  X32_SYSCALL_BIT,
  compileSeccomp,
  type CompileSeccompOptions,
  type CompiledSeccomp,
} from './compile';
export { BPF_MAXINSNS } from './bpf';
export { SYSCALL_TABLE_SOURCE, isKnownSyscallName, syscallName, syscallTable, type TableArch } from './syscalls';
