// The config.toml of a private containerd (1.6, version 2): root, state, the
// gRPC/ttrpc/debug sockets and the opt plugin's directory under one
// directory, CRI disabled (ctr needs none of it). Shared by the containerd
// tests (integration/clients.ts), the systemd lane's guest
// (scripts/v2-lane/guest-systemd.mjs) and the shim benchmark (bench/shim.mjs).

/** The config text for containerd with its files under `dir` and its gRPC socket at `sock` (ttrpc: `<sock>.ttrpc`). */
export function containerdConfig(dir, sock, level = 'debug') {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "${sock}"

[ttrpc]
  address = "${sock}.ttrpc"

[debug]
  address = "${dir}/debug.sock"
  level = "${level}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`;
}
