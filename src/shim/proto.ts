// Protobuf messages of the shim API, from the vendored .proto files (see
// proto/README.md) compiled once into proto/descriptor.json. Field names
// keep the .proto spelling (snake_case): `{ exit_status: 3 }`.
import * as protobuf from 'protobufjs/light';
import descriptor from './proto/descriptor.json';

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
const types = new Map<string, protobuf.Type>();

/** A message type by its full name, e.g. "containerd.task.v2.CreateTaskRequest". */
export function messageType(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    t = root.lookupType(name);
    types.set(name, t);
  }
  return t;
}

/** Encodes a plain object (snake_case fields) as `name`. */
export function encode(name: string, value: object): Buffer {
  const t = messageType(name);
  const bytes = t.encode(t.fromObject(value as Record<string, unknown>)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes `name` into a plain object: every field present (defaults filled
 * in), 64-bit integers as numbers, enums as numbers, bytes as Buffers. */
export function decode<T = Record<string, unknown>>(name: string, data: Uint8Array): T {
  const t = messageType(name);
  return t.toObject(t.decode(data), { longs: Number, enums: Number, defaults: true, arrays: true, objects: false }) as T;
}

export interface Any {
  type_url: string;
  value: Buffer;
}

/** google.protobuf.Any holding `value` encoded as `name`; the type URL is the
 * bare message name, as containerd's typeurl writes it for its own types. */
export function packAny(name: string, value: object, typeUrl = name): Any {
  return { type_url: typeUrl, value: encode(name, value) };
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestamp(d: Date | number): Timestamp {
  const ms = typeof d === 'number' ? d : d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** A uint64 for protobuf.js: numbers beyond 2^53 as decimal strings (exact
 * for values read from cgroup files), 2^64 and above as the u64 maximum. */
export function u64(n: number | undefined): number | string {
  if (n === undefined || !Number.isFinite(n) || n <= 0) return 0;
  if (n <= Number.MAX_SAFE_INTEGER) return Math.floor(n);
  if (n >= 2 ** 64) return '18446744073709551615';
  return BigInt(n).toString();
}

// Message names used across the shim.
export const T = {
  Request: 'ttrpc.Request',
  Response: 'ttrpc.Response',
  Status: 'google.rpc.Status',
  Empty: 'google.protobuf.Empty',
  Any: 'google.protobuf.Any',
  CreateTaskRequest: 'containerd.task.v2.CreateTaskRequest',
  CreateTaskResponse: 'containerd.task.v2.CreateTaskResponse',
  DeleteRequest: 'containerd.task.v2.DeleteRequest',
  DeleteResponse: 'containerd.task.v2.DeleteResponse',
  ExecProcessRequest: 'containerd.task.v2.ExecProcessRequest',
  ResizePtyRequest: 'containerd.task.v2.ResizePtyRequest',
  StateRequest: 'containerd.task.v2.StateRequest',
  StateResponse: 'containerd.task.v2.StateResponse',
  KillRequest: 'containerd.task.v2.KillRequest',
  CloseIORequest: 'containerd.task.v2.CloseIORequest',
  PidsRequest: 'containerd.task.v2.PidsRequest',
  PidsResponse: 'containerd.task.v2.PidsResponse',
  UpdateTaskRequest: 'containerd.task.v2.UpdateTaskRequest',
  StartRequest: 'containerd.task.v2.StartRequest',
  StartResponse: 'containerd.task.v2.StartResponse',
  WaitRequest: 'containerd.task.v2.WaitRequest',
  WaitResponse: 'containerd.task.v2.WaitResponse',
  StatsRequest: 'containerd.task.v2.StatsRequest',
  StatsResponse: 'containerd.task.v2.StatsResponse',
  ConnectRequest: 'containerd.task.v2.ConnectRequest',
  ConnectResponse: 'containerd.task.v2.ConnectResponse',
  ShutdownRequest: 'containerd.task.v2.ShutdownRequest',
  PauseRequest: 'containerd.task.v2.PauseRequest',
  ResumeRequest: 'containerd.task.v2.ResumeRequest',
  ForwardRequest: 'containerd.services.events.ttrpc.v1.ForwardRequest',
  Metrics: 'io.containerd.cgroups.v1.Metrics',
  MetricsV2: 'io.containerd.cgroups.v2.Metrics',
} as const;

/** containerd.v1.types.Status */
export const TaskStatus = { UNKNOWN: 0, CREATED: 1, RUNNING: 2, STOPPED: 3, PAUSED: 4, PAUSING: 5 } as const;

// Request shapes (decoded with defaults, so every field is present).
export interface CreateTaskRequest {
  id: string;
  bundle: string;
  rootfs: { type: string; source: string; target: string; options: string[] }[];
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  checkpoint: string;
  parent_checkpoint: string;
  options: Any | null;
}
export interface IdExec {
  id: string;
  exec_id: string;
}
export interface ExecProcessRequest extends IdExec {
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  spec: Any | null;
}
export interface ResizePtyRequest extends IdExec {
  width: number;
  height: number;
}
export interface KillRequest extends IdExec {
  signal: number;
  all: boolean;
}
export interface CloseIORequest extends IdExec {
  stdin: boolean;
}
export interface UpdateTaskRequest {
  id: string;
  resources: Any | null;
  annotations: Record<string, string>;
}
export interface ShutdownRequest {
  id: string;
  now: boolean;
}
