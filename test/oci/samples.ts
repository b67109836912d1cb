// Realistic config.json samples for the validator tests.

/** A minimal valid config (what most tests mutate). */
export function minimal(): Record<string, any> {
  return {
    ociVersion: '1.0.2',
    process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/' },
    root: { path: 'rootfs' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

/** Roughly what containerd/docker generate: seccomp, resources, devices, hooks, sysctls. */
export function dockerish(): Record<string, any> {
  return {
    ociVersion: '1.1.0',
    process: {
      terminal: false,
      consoleSize: { height: 24, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 18, additionalGids: [10, 1000] },
      args: ['/usr/sbin/nginx', '-g', 'daemon off;'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=web'],
      cwd: '/srv/www',
      capabilities: {
        bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID'],
        effective: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
        inheritable: [],
        ambient: [],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 65536, hard: 65536 },
        { type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 },
      ],
      noNewPrivileges: true,
      apparmorProfile: 'docker-default',
      oomScoreAdj: 0,
      scheduler: { policy: 'SCHED_OTHER', nice: 5 },
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0', final: '0-3,6' },
    },
    root: { path: '/var/lib/containers/abc/rootfs', readonly: false },
    hostname: 'web',
    domainname: 'example.org',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/var/lib/containers/abc/resolv.conf', options: ['rbind', 'rprivate'] },
      { destination: 'data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] },
      {
        destination: '/mnt/idmapped',
        type: 'bind',
        source: '/srv/shared',
        options: ['bind', 'idmap'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    hooks: {
      createRuntime: [{ path: '/usr/libexec/oci/hooks.d/net', args: ['net', 'setup'], env: ['A=1'], timeout: 5 }],
      poststop: [{ path: '/usr/bin/cleanup' }],
    },
    annotations: { 'io.kubernetes.pod.name': 'web-0', 'org.opencontainers.image.ref.name': 'nginx' },
    linux: {
      sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '65536' },
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
          { allow: true, type: 'c', major: 136, access: 'rw' },
        ],
        memory: { limit: 536870912, reservation: 268435456, swap: -1, swappiness: 60, disableOOMKiller: false },
        cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-3', mems: '0', idle: 0 },
        pids: { limit: 512 },
        blockIO: {
          weight: 500,
          weightDevice: [{ major: 8, minor: 0, weight: 600 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 104857600 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '500000000' },
      },
      cgroupsPath: '/kubepods/besteffort/pod123/abc',
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/var/run/netns/web' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
      ],
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: '/dev/myfifo', type: 'p' },
      ],
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
        syscalls: [
          { names: ['read', 'write', 'exit_group', 'futex'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['personality'],
            action: 'SCMP_ACT_ALLOW',
            args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }],
          },
          {
            names: ['clone'],
            action: 'SCMP_ACT_ALLOW',
            args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
          },
          { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        ],
      },
      rootfsPropagation: 'private',
      maskedPaths: ['/proc/kcore', '/sys/firmware'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
      intelRdt: { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', memBwSchema: 'MB:0=20', enableMonitoring: true },
      personality: { domain: 'LINUX', flags: [] },
      timeOffsets: { monotonic: { secs: 3600, nanosecs: 0 } },
    },
  };
}

/** A rootless config as produced by `runc spec --rootless`, plus a seccomp notify listener. */
export function rootless(): Record<string, any> {
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm'],
      cwd: '/',
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'box',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      uidMappings: [
        { containerID: 0, hostID: 1000, size: 1 },
        { containerID: 1, hostID: 100000, size: 65536 },
      ],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }, { type: 'time' }],
      seccomp: {
        defaultAction: 'SCMP_ACT_ALLOW',
        listenerPath: '/run/seccomp-agent.sock',
        listenerMetadata: 'opaque',
        syscalls: [{ names: ['mknod', 'mknodat'], action: 'SCMP_ACT_NOTIFY' }],
      },
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
    },
  };
}

/** A config with a real-time scheduler, a memory policy and unknown extension fields. */
export function realtime(): Record<string, any> {
  return {
    ociVersion: '1.2.0+dev',
    process: {
      user: { uid: 0, gid: 0 },
      args: ['/opt/rt/worker'],
      cwd: '/opt/rt',
      scheduler: { policy: 'SCHED_DEADLINE', runtime: 10000000, deadline: 20000000, period: 30000000, flags: ['SCHED_FLAG_RESET_ON_FORK'] },
      rlimits: [{ type: 'RLIMIT_RTPRIO', soft: 99, hard: 99 }],
    },
    root: { path: 'rootfs' },
    mounts: [],
    linux: {
      namespaces: [{ type: 'mount' }],
      memoryPolicy: { mode: 'MPOL_BIND', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] },
      resources: { cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 } },
      futureField: { anything: [1, 2, 3] },
    },
    vendorExtension: true,
  };
}

export const VALID_SAMPLES: Record<string, () => Record<string, any>> = { minimal, dockerish, rootless, realtime };
