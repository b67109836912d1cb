// The contract between the runtime and the native init, written once: each
// operation of a plan with its opcode and its fields in wire order, and the
// constants both sides use. scripts/gen-plan-abi.mjs turns this module into
// native/plan-abi.h and native/plan-abi.c (the C structs, the decoders and
// the dispatch to the handlers); `npm run build` fails when they are stale.
//
// Wire format of one field, by type:
//   u64    8 bytes, little endian (negative numbers as two's complement)
//   slot   a u64 naming an fd slot of the native init, below MAX_SLOTS
//   str    u32 length including the NUL, then the bytes and the NUL
//   strv   u32 count, then that many str
//   bytes  u32 length, then the bytes
//   u64v   u32 count, then that many u64
// A type ending in "?" may be left out by the builder: u64 defaults to 0,
// str to "", slot to NO_SLOT (which the decoder also accepts).

/** Target flags of the mount steps (mount, remount, moveMount, mask, mkdir). */
export const T = {
  /** Resolve the target inside the root fd (openat2 RESOLVE_IN_ROOT). */
  IN_ROOT: 1,
  /** Create missing directories on the way. */
  MKDIR: 2,
  /** The last component is a file: create it empty. */
  MKFILE: 4,
  /** A missing target is not an error (masked and read-only paths). */
  IGNORE_ENOENT: 8,
  /** The source is resolved inside the root too. */
  SRC_IN_ROOT: 16,
  /** Copy what was at the target into the new (tmpfs) mount. */
  COPYUP: 32,
  /** Refuse a target on procfs: nothing but runc's few files is mounted inside /proc. */
  NOT_PROCFS: 64,
  /** Reached without symlinks, and a directory (where proc and sysfs go). */
  PLAIN_DIR: 128,
  /** A remount keeps the flags a user namespace's owner locked (the kernel demands it). */
  KEEP_LOCKED: 256,
  /** Creating a missing target: a dangling symlink leads to where it points, inside the root (as runc's securejoin). */
  FOLLOW_DANGLING: 512,
} as const;

/** The native init's fd slots. Fixed ones first, then ranges (X .. X_END). */
export const Slot = {
  /** The container's root directory (setRoot). */
  ROOT: 0,
  /** The state directory, where the exec fifo is opened. */
  FIFO: 1,
  /** The socket the console's pty master goes to. */
  CONSOLE: 2,
  /** The seccomp notify fd, when the filter returns one. */
  LISTENER: 3,
  /** The seccomp agent's socket. */
  AGENT: 4,
  /** The null device masks are made of. */
  NULLDEV: 5,
  /** A pidfd of the container's init (exec). */
  INIT: 6,
  /** Fds the runtime passes with GO (id-mapped mounts). */
  PASSED: 8,
  PASSED_END: 16,
  /** Cgroup files and directories opened on the host side. */
  CGROUP: 16,
  CGROUP_END: 32,
  /** Mounts kept for a later remountSlot (read-only at the end). */
  KEPT: 32,
  KEPT_END: 48,
  /** Bind sources cloned on the host side, before the user namespace. */
  SOURCE: 48,
  SOURCE_END: 112,
} as const;

/** The size of the native init's slot table. */
export const MAX_SLOTS = 112;
/** "No slot" in an optional slot field. */
export const NO_SLOT = 0xffffffff;
/** statfs f_type of procfs: files tsrun writes there must really be on it. */
export const PROC_SUPER_MAGIC = 0x9fa0;
/** The step number the native init reports when it cannot run from a protected copy of itself. */
export const SELF_COPY_STEP = 0xffffffff;

/** Messages on the control socket (struct msg: u32 type, u32 step, i32 err, u32 val). */
export const Msg = { PID: 1, READY: 2, ERROR: 3, EXIT: 4, GO: 10 } as const;

export type FieldType = 'u64' | 'slot' | 'str' | 'strv' | 'bytes' | 'u64v';
type FieldSpec = FieldType | `${FieldType}?`;

interface OpSpec {
  code: number;
  /** What the step does, for the generated C and the reader. */
  doc: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

/** Every operation, in opcode order. Field order is wire order. */
export const OPS = {
  setns: { code: 1, doc: 'join the namespace at path', fields: { path: 'str', nstype: 'u64' } },
  unshare: { code: 2, doc: 'unshare(flags)', fields: { flags: 'u64' } },
  writeFile: {
    code: 3,
    doc: 'write data to an existing file, opened without magic links; fsMagic: the file system it must be on (0: any)',
    fields: { path: 'str', data: 'str', fsMagic: 'u64?' },
  },
  clone: {
    code: 4,
    doc: 'create the next process (the container init) with these clone flags; later steps run in it; relay: stage 0 stays to mirror its exit; relayIgnore: signals the relay ignores',
    fields: { flags: 'u64', relay: 'u64?', cgroupSlot: 'slot?', relayIgnore: 'u64?' },
  },
  waitGo: { code: 5, doc: 'wait for the runtime\'s GO message (and its payloads: the hooks\' state JSON, the seccomp agent\'s message)', fields: {} },
  setid: { code: 6, doc: 'setresgid then setresuid', fields: { uid: 'u64', gid: 'u64' } },
  setsid: { code: 7, doc: 'a new session', fields: {} },
  setDumpable: { code: 8, doc: 'prctl(PR_SET_DUMPABLE)', fields: { value: 'u64' } },
  mount: {
    code: 9,
    doc: 'a mount: a host path (no T.IN_ROOT) with mount(2), or onto a target resolved inside the root, made detached and attached by fd with its options',
    fields: {
      source: 'str',
      target: 'str',
      fstype: 'str?',
      flags: 'u64',
      data: 'str?',
      tflags: 'u64?',
      remount: 'u64?',
      recSet: 'u64?',
      recClear: 'u64?',
      propagation: 'u64?',
      keepSlot: 'slot?',
      sourceSlot: 'slot?',
    },
  },
  mknod: {
    code: 11,
    doc: 'a device node name in dir (resolved inside the root, created if missing), with its owner and mode',
    fields: { dir: 'str', name: 'str', mode: 'u64', dev: 'u64', uid: 'u64', gid: 'u64' },
  },
  symlink: { code: 12, doc: 'symlink(target, link); existOk: an entry already at link is fine', fields: { target: 'str', link: 'str', existOk: 'u64?' } },
  pivotRoot: { code: 13, doc: 'pivot_root into root and detach the old root', fields: { root: 'str' } },
  moveRoot: { code: 14, doc: 'move root onto / and chroot (--no-pivot)', fields: { root: 'str' } },
  sethostname: { code: 15, doc: 'sethostname', fields: { name: 'str' } },
  setdomainname: { code: 16, doc: 'setdomainname', fields: { name: 'str' } },
  rlimit: { code: 17, doc: 'setrlimit', fields: { resource: 'u64', soft: 'u64', hard: 'u64' } },
  hook: {
    code: 18,
    doc: 'run a hook with the state JSON on stdin, killed after timeout seconds (0: none); label names it in a late failure',
    fields: { path: 'str', args: 'strv', env: 'strv', timeout: 'u64?', label: 'str', cwdSlot: 'slot?' },
  },
  openPath: { code: 19, doc: 'open(path, flags) into slot', fields: { path: 'str', slot: 'slot', flags: 'u64' } },
  connect: { code: 20, doc: 'connect a unix stream socket to path, into slot', fields: { path: 'str', slot: 'slot' } },
  console: {
    code: 21,
    doc: 'open a new pty master at ptmx (must be major:minor), make its slave the console (bound on consoleDir\'s console when set) and stdio, and send the master over the socket in slot',
    fields: { slot: 'slot', ptmx: 'str', ptmxMajor: 'u64', ptmxMinor: 'u64', consoleDir: 'str?', rows: 'u64?', cols: 'u64?' },
  },
  execCheck: { code: 22, doc: 'choose the first candidate that is an executable regular file; exec runs it', fields: { candidates: 'strv' } },
  ready: { code: 23, doc: 'tell the runtime the container is set up, and close the control socket', fields: {} },
  fifo: { code: 24, doc: 'open the exec fifo name in the directory in slot for writing (blocks until start)', fields: { slot: 'slot', name: 'str' } },
  noNewPrivs: { code: 25, doc: 'prctl(PR_SET_NO_NEW_PRIVS)', fields: {} },
  seccomp: { code: 26, doc: 'load a classic BPF program; a listener fd goes to Slot.LISTENER', fields: { program: 'bytes', flags: 'u64?' } },
  capbsetDrop: { code: 27, doc: 'drop every capability up to last that is not in keep from the bounding set', fields: { keep: 'u64', last: 'u64' } },
  user: {
    code: 28,
    doc: 'the process identity, keeping the permitted capabilities across it; setGroups: call setgroups',
    fields: { uid: 'u64', gid: 'u64', groups: 'u64v', setGroups: 'u64?' },
  },
  capset: { code: 29, doc: 'the capability sets, and the ambient set raised one by one', fields: { effective: 'u64', permitted: 'u64', inheritable: 'u64', ambient: 'u64' } },
  umask: { code: 30, doc: 'umask', fields: { mask: 'u64' } },
  chdir: {
    code: 31,
    doc: 'the working directory, never through a magic link; mode 1: before the identity change, a refusal waits for the mode 2 step after it',
    fields: { path: 'str', mode: 'u64?' },
  },
  closeFds: { code: 32, doc: 'mark every fd from `from` on close-on-exec', fields: { from: 'u64' } },
  exec: { code: 33, doc: 'execve (the program execCheck chose, else args[0])', fields: { args: 'strv', env: 'strv' } },
  remount: { code: 35, doc: 'new flags for the mount at target', fields: { target: 'str', flags: 'u64', tflags: 'u64?' } },
  mask: { code: 36, doc: 'cover path with the null device in slot (a file) or an empty read-only tmpfs (a directory)', fields: { path: 'str', nullSlot: 'slot', tflags: 'u64?' } },
  personality: { code: 37, doc: 'personality', fields: { persona: 'u64' } },
  setRoot: { code: 38, doc: 'open path as the root directory (Slot.ROOT) later steps resolve in', fields: { path: 'str' } },
  mkfifo: { code: 39, doc: 'a fifo at a host path, with its mode and owner', fields: { path: 'str', mode: 'u64', uid: 'u64', gid: 'u64' } },
  keyring: { code: 42, doc: 'join a new session keyring of this name', fields: { name: 'str' } },
  mkdir: { code: 43, doc: 'create path inside the root, with its parents', fields: { path: 'str', tflags: 'u64?' } },
  chroot: { code: 44, doc: 'chroot', fields: { root: 'str' } },
  sched: {
    code: 46,
    doc: 'sched_setattr',
    fields: { policy: 'u64', flags: 'u64?', nice: 'u64?', priority: 'u64?', runtime: 'u64?', deadline: 'u64?', period: 'u64?' },
  },
  ioprio: { code: 47, doc: 'ioprio_set for this process', fields: { value: 'u64' } },
  affinity: { code: 48, doc: 'sched_setaffinity with this CPU mask', fields: { mask: 'bytes' } },
  adoptFd: { code: 49, doc: 'an inherited fd becomes a slot (close-on-exec)', fields: { slot: 'slot', fd: 'u64' } },
  sendListener: { code: 50, doc: 'send the seccomp listener to the agent\'s socket in socketSlot, with the agent message', fields: { socketSlot: 'slot' } },
  moveMount: {
    code: 51,
    doc: 'attach the detached mount in slot (id-mapped, from the runtime) onto target inside the root, with its options',
    fields: { slot: 'slot', target: 'str', tflags: 'u64?', remount: 'u64?', recSet: 'u64?', recClear: 'u64?', propagation: 'u64?', keepSlot: 'slot?', sourceSlot: 'slot?' },
  },
  linkUp: { code: 52, doc: 'bring a network interface up', fields: { name: 'str' } },
  joinCgroup: { code: 53, doc: 'write "0" to the v1 tasks file in slot', fields: { slot: 'slot' } },
  expectDev: { code: 55, doc: 'the fd in slot must be this device node (type is S_IFCHR or S_IFBLK)', fields: { slot: 'slot', type: 'u64', major: 'u64', minor: 'u64' } },
  umount: { code: 56, doc: 'detach a host mount (cover: with an empty tmpfs where detaching is refused)', fields: { path: 'str', cover: 'u64?' } },
  cloneMount: { code: 57, doc: 'the fd in slot becomes a detached copy of its mount', fields: { slot: 'slot' } },
  fixStdio: { code: 58, doc: 'stdio becomes uid\'s (not the null device)', fields: { uid: 'u64' } },
  remountSlot: { code: 59, doc: 'final flags for a mount kept in slot', fields: { slot: 'slot', flags: 'u64', tflags: 'u64?' } },
  cloneTree: { code: 60, doc: 'a detached copy of the mount tree at a host path into slot (a Slot.SOURCE one)', fields: { path: 'str', slot: 'slot', recursive: 'u64?' } },
  setMempolicy: { code: 61, doc: 'set_mempolicy(mode, nodes): mode with its MPOL_F_* flags, nodes a bit mask (empty: none)', fields: { mode: 'u64', nodes: 'bytes' } },
  pidfdOpen: { code: 70, doc: 'a pidfd of pid into slot, if its start time is still startTime', fields: { pid: 'u64', startTime: 'u64', slot: 'slot' } },
  setnsPidfd: { code: 71, doc: 'join one namespace of the pidfd\'s process', fields: { slot: 'slot', nstype: 'u64' } },
  pidfdAlive: { code: 72, doc: 'fail with ESRCH if the pidfd\'s process has exited', fields: { slot: 'slot' } },
  chrootSlot: { code: 73, doc: 'chroot into the directory in slot', fields: { slot: 'slot' } },
} as const satisfies Record<string, OpSpec>;

export type OpName = keyof typeof OPS;

type Value<F> = F extends 'u64' | 'slot' ? number | bigint : F extends 'str' ? string : F extends 'strv' ? string[] : F extends 'bytes' ? Buffer : F extends 'u64v' ? Array<number | bigint> : never;
type Base<F> = F extends `${infer B}?` ? B : F;
type Fields<K extends OpName> = (typeof OPS)[K]['fields'];

/** The typed fields of operation K: required ones, and optional ones ("?" in the schema). */
export type OpArgs<K extends OpName> = {
  -readonly [N in keyof Fields<K> as Fields<K>[N] extends `${string}?` ? never : N]: Value<Fields<K>[N]>;
} & {
  -readonly [N in keyof Fields<K> as Fields<K>[N] extends `${string}?` ? N : never]?: Value<Base<Fields<K>[N]>>;
};

/** An operation's fields in wire order, with each one's type and whether it may be left out. */
export interface FieldLayout {
  name: string;
  type: FieldType;
  optional: boolean;
}

const LAYOUTS = Object.fromEntries(
  Object.entries(OPS).map(([op, spec]) => [
    op,
    Object.entries(spec.fields as Record<string, FieldSpec>).map(([name, f]) => ({ name, type: f.replace('?', '') as FieldType, optional: f.endsWith('?') })),
  ]),
) as Record<OpName, FieldLayout[]>;

export function layoutOf(op: OpName): FieldLayout[] {
  return LAYOUTS[op];
}
