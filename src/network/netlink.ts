// rtnetlink messages, encoded and decoded in plain Buffers (pure; the socket
// is in rtnl.ts). Layouts are the kernel's uapi headers on Linux (host byte
// order, which is little-endian on every architecture tsrun supports):
//   struct nlmsghdr  { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }      16 bytes
//   struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; } 16
//   struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }        8
//   struct rtmsg     { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; } 12
//   struct rtattr    { u16 len; u16 type; } + payload, each padded to 4 bytes
import { TsrunError } from '../errors';

export const NLMSG_HDRLEN = 16;
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3 } as const;
export const NLM_F = { REQUEST: 0x1, MULTI: 0x2, ACK: 0x4, ROOT: 0x100, MATCH: 0x200, EXCL: 0x200, CREATE: 0x400, REPLACE: 0x100 } as const;
export const NLM_F_DUMP = NLM_F.ROOT | NLM_F.MATCH;
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;
export const AF = { UNSPEC: 0, INET: 2, INET6: 10, NETLINK: 16 } as const;
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_PID: 19,
  NET_NS_FD: 28,
} as const;
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const VETH_INFO_PEER = 1;
export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4, FLAGS: 8 } as const;
export const IFA_F = { NODAD: 0x02, PERMANENT: 0x80 } as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
export const RTPROT_STATIC = 4;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;
export const RTN_UNICAST = 1;
export const IFF_UP = 0x1;
export const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | 0x4000) & 0xffff;

export function align4(n: number): number {
  return (n + 3) & ~3;
}

// ---- attributes ----

/** One rtattr: a payload, or nested attributes. */
export interface Attr {
  type: number;
  data: Buffer;
}

export function attr(type: number, data: Buffer): Attr {
  return { type, data };
}
export function attrU32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return { type, data: b };
}
export function attrS32(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return { type, data: b };
}
/** A NUL-terminated string (IFLA_IFNAME, IFLA_INFO_KIND). */
export function attrStr(type: number, s: string): Attr {
  return { type, data: Buffer.concat([Buffer.from(s), Buffer.alloc(1)]) };
}
/** Nested attributes; `prefix` is a fixed header before them (VETH_INFO_PEER carries an ifinfomsg). */
export function attrNested(type: number, children: Attr[], prefix?: Buffer): Attr {
  return { type: type | NLA_F_NESTED, data: Buffer.concat([...(prefix ? [prefix] : []), encodeAttrs(children)]) };
}

export function encodeAttrs(attrs: Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of attrs) {
    const len = 4 + a.data.length;
    const b = Buffer.alloc(align4(len));
    b.writeUInt16LE(len, 0);
    b.writeUInt16LE(a.type, 2);
    a.data.copy(b, 4);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

/** Attributes in a buffer; the NLA_F_NESTED flag is stripped from the types. */
export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < 4 || off + len > buf.length) throw new TsrunError(`netlink: malformed attribute (length ${len} at offset ${off})`);
    out.push({ type, data: buf.subarray(off + 4, off + len) });
    off += align4(len);
  }
  return out;
}

export function findAttr(attrs: Attr[], type: number): Buffer | undefined {
  return attrs.find((a) => a.type === type)?.data;
}

export function attrString(data: Buffer): string {
  const nul = data.indexOf(0);
  return data.subarray(0, nul < 0 ? data.length : nul).toString();
}

// ---- fixed headers ----

export interface IfInfo {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

export function ifinfomsg(i: IfInfo = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(i.family ?? AF.UNSPEC, 0);
  b.writeUInt16LE(i.type ?? 0, 2);
  b.writeInt32LE(i.index ?? 0, 4);
  b.writeUInt32LE((i.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((i.change ?? 0) >>> 0, 12);
  return b;
}

export function parseIfinfomsg(b: Buffer): Required<IfInfo> {
  return { family: b.readUInt8(0), type: b.readUInt16LE(2), index: b.readInt32LE(4), flags: b.readUInt32LE(8), change: b.readUInt32LE(12) };
}

export interface IfAddr {
  family: number;
  prefixlen: number;
  flags?: number;
  scope?: number;
  index: number;
}

export function ifaddrmsg(a: IfAddr): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(a.family, 0);
  b.writeUInt8(a.prefixlen, 1);
  b.writeUInt8(a.flags ?? 0, 2);
  b.writeUInt8(a.scope ?? 0, 3);
  b.writeUInt32LE(a.index, 4);
  return b;
}

export function parseIfaddrmsg(b: Buffer): Required<IfAddr> {
  return { family: b.readUInt8(0), prefixlen: b.readUInt8(1), flags: b.readUInt8(2), scope: b.readUInt8(3), index: b.readUInt32LE(4) };
}

export interface RtMsg {
  family: number;
  dstLen?: number;
  srcLen?: number;
  tos?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}

export function rtmsg(r: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(r.family, 0);
  b.writeUInt8(r.dstLen ?? 0, 1);
  b.writeUInt8(r.srcLen ?? 0, 2);
  b.writeUInt8(r.tos ?? 0, 3);
  b.writeUInt8(r.table ?? RT_TABLE_MAIN, 4);
  b.writeUInt8(r.protocol ?? RTPROT_STATIC, 5);
  b.writeUInt8(r.scope ?? RT_SCOPE.UNIVERSE, 6);
  b.writeUInt8(r.type ?? RTN_UNICAST, 7);
  b.writeUInt32LE(r.flags ?? 0, 8);
  return b;
}

export function parseRtmsg(b: Buffer): Required<RtMsg> {
  return {
    family: b.readUInt8(0),
    dstLen: b.readUInt8(1),
    srcLen: b.readUInt8(2),
    tos: b.readUInt8(3),
    table: b.readUInt8(4),
    protocol: b.readUInt8(5),
    scope: b.readUInt8(6),
    type: b.readUInt8(7),
    flags: b.readUInt32LE(8),
  };
}

// ---- messages ----

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the nlmsghdr. */
  payload: Buffer;
}

/** A whole message: header, fixed part, attributes. */
export function encodeMessage(type: number, flags: number, seq: number, fixed: Buffer, attrs: Attr[] = []): Buffer {
  const body = Buffer.concat([fixed, Buffer.alloc(align4(fixed.length) - fixed.length), encodeAttrs(attrs)]);
  const hdr = Buffer.alloc(NLMSG_HDRLEN);
  hdr.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  hdr.writeUInt16LE(type, 4);
  hdr.writeUInt16LE(flags, 6);
  hdr.writeUInt32LE(seq >>> 0, 8);
  hdr.writeUInt32LE(0, 12);
  return Buffer.concat([hdr, body]);
}

/** The messages in one datagram from the kernel. */
export function decodeMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new TsrunError(`netlink: malformed message (length ${len} at offset ${off})`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** NLMSG_ERROR's payload: a negative errno (0 is an ACK) and the request's header. */
export function parseError(payload: Buffer): { errno: number; seq: number } {
  const err = payload.readInt32LE(0);
  const seq = payload.length >= 4 + NLMSG_HDRLEN ? payload.readUInt32LE(4 + 8) : 0;
  return { errno: err === 0 ? 0 : -err, seq };
}

/** A link as RTM_NEWLINK describes it. */
export interface LinkInfo {
  index: number;
  name: string;
  flags: number;
  mtu?: number;
  master?: number;
  kind?: string;
  mac?: string;
}

export function parseLink(payload: Buffer): LinkInfo {
  const info = parseIfinfomsg(payload);
  const attrs = decodeAttrs(payload.subarray(16));
  const name = findAttr(attrs, IFLA.IFNAME);
  const mtu = findAttr(attrs, IFLA.MTU);
  const master = findAttr(attrs, IFLA.MASTER);
  const mac = findAttr(attrs, IFLA.ADDRESS);
  const linkinfo = findAttr(attrs, IFLA.LINKINFO);
  const kind = linkinfo ? findAttr(decodeAttrs(linkinfo), IFLA_INFO.KIND) : undefined;
  return {
    index: info.index,
    name: name ? attrString(name) : '',
    flags: info.flags,
    ...(mtu ? { mtu: mtu.readUInt32LE(0) } : {}),
    ...(master ? { master: master.readUInt32LE(0) } : {}),
    ...(kind ? { kind: attrString(kind) } : {}),
    ...(mac ? { mac: formatMac(mac) } : {}),
  };
}

/** An address as RTM_NEWADDR describes it. */
export interface AddrInfo {
  family: number;
  index: number;
  prefixlen: number;
  /** The address's raw bytes (IFA_LOCAL, else IFA_ADDRESS). */
  address: Buffer;
  /** IFA_F_* (IFA_FLAGS when the kernel sent it, else the header's 8 bits). */
  flags: number;
  /** RT_SCOPE_*. */
  scope: number;
}

export function parseAddr(payload: Buffer): AddrInfo {
  const a = parseIfaddrmsg(payload);
  const attrs = decodeAttrs(payload.subarray(8));
  const flags = findAttr(attrs, IFA.FLAGS);
  return {
    family: a.family,
    index: a.index,
    prefixlen: a.prefixlen,
    address: findAttr(attrs, IFA.LOCAL) ?? findAttr(attrs, IFA.ADDRESS) ?? Buffer.alloc(0),
    flags: flags && flags.length >= 4 ? flags.readUInt32LE(0) : a.flags,
    scope: a.scope,
  };
}

export function parseMac(text: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) throw new TsrunError(`invalid MAC address "${text}"`);
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
