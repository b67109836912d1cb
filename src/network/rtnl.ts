// An rtnetlink socket (AF_NETLINK, NETLINK_ROUTE) and the link, address and
// route operations tsrun needs. Calls are synchronous: the kernel answers
// rtnetlink requests at once, and a receive timeout guards against a hang.
import { closeSync, openSync } from 'node:fs';
import { errnoName, TsrunError } from '../errors';
import { CLONE_NEWNET, libc, type Libc } from '../sys/libc';
import {
  AF,
  attr,
  attrNested,
  attrS32,
  attrStr,
  attrU32,
  decodeAttrs,
  decodeMessages,
  encodeMessage,
  findAttr,
  attrString,
  IFA,
  IFA_F,
  ifaddrmsg,
  IFF_UP,
  ifinfomsg,
  IFLA,
  IFLA_INFO,
  NLM_F,
  NLM_F_DUMP,
  NLMSG,
  parseAddr,
  parseLink,
  RTA,
  rtmsg,
  RTM,
  VETH_INFO_PEER,
  type AddrInfo,
  type Attr,
  type LinkInfo,
  type NlMsg,
  parseMac,
  parseError,
} from './netlink';

const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const EINTR = 4;

/** A failed rtnetlink request: `errno` is the kernel's answer. */
export class NetlinkError extends TsrunError {
  override name = 'NetlinkError';
  constructor(
    readonly op: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`netlink ${op}: ${errnoName(errno)}${detail ? ` (${detail})` : ''}`);
  }
}

export class Rtnl {
  private readonly c: Libc;
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(64 * 1024);

  constructor() {
    this.c = libc();
    this.fd = this.c.socket(AF.NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (this.fd < 0) throw new TsrunError(`cannot open a netlink socket: ${errnoName(this.c.errno())}`);
    const tv = Buffer.alloc(16); // struct timeval: 5 s
    tv.writeBigInt64LE(5n, 0);
    this.c.setsockopt(this.fd, SOL_SOCKET, SO_RCVTIMEO, tv, 16);
    const one = Buffer.alloc(4);
    one.writeInt32LE(1, 0);
    // Short acks, and the kernel's own words for an error (both optional).
    this.c.setsockopt(this.fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
    this.c.setsockopt(this.fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
  }

  /** An rtnetlink socket in the network namespace of `pid`: the calling
   * thread (Node's main thread) enters it with setns(CLONE_NEWNET), opens
   * the socket, which stays bound to that namespace, and always returns. */
  static inNetnsOf(pid: number): Rtnl {
    const c = libc();
    const home = openSync('/proc/thread-self/ns/net', 'r');
    let target: number | undefined;
    try {
      try {
        target = openSync(`/proc/${pid}/ns/net`, 'r');
      } catch (e) {
        throw new TsrunError(`cannot open the network namespace of process ${pid}: ${(e as NodeJS.ErrnoException).code}`);
      }
      if (c.setns(target, CLONE_NEWNET) < 0) throw new TsrunError(`setns into the network namespace of process ${pid}: ${errnoName(c.errno())}`);
      try {
        return new Rtnl();
      } finally {
        if (c.setns(home, CLONE_NEWNET) < 0) {
          // Staying in the container's namespace would be worse than dying.
          process.stderr.write(`tsrun: fatal: cannot return to the host network namespace: ${errnoName(c.errno())}\n`);
          process.abort();
        }
      }
    } finally {
      if (target !== undefined) closeSync(target);
      closeSync(home);
    }
  }

  close(): void {
    this.c.close(this.fd);
  }

  /** Sends one request and collects the replies up to its ack (or DONE for a dump). */
  request(op: string, type: number, flags: number, fixed: Buffer, attrs: Attr[] = []): NlMsg[] {
    const seq = ++this.seq >>> 0;
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const msg = encodeMessage(type, flags | NLM_F.REQUEST | (dump ? 0 : NLM_F.ACK), seq, fixed, attrs);
    const sa = Buffer.alloc(12); // struct sockaddr_nl to the kernel (pid 0)
    sa.writeUInt16LE(AF.NETLINK, 0);
    for (;;) {
      if (this.c.sendto(this.fd, msg, msg.length, 0, sa, sa.length) >= 0) break;
      const err = this.c.errno();
      if (err !== EINTR) throw new NetlinkError(op, err);
    }
    const out: NlMsg[] = [];
    for (;;) {
      const n = this.c.recv(this.fd, this.rbuf, this.rbuf.length, 0);
      if (n < 0) {
        const err = this.c.errno();
        if (err === EINTR) continue;
        throw new NetlinkError(op, err, err === 11 ? 'no answer from the kernel' : undefined);
      }
      for (const m of decodeMessages(Buffer.from(this.rbuf.subarray(0, n)))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NLMSG.ERROR) {
          const { errno } = parseError(m.payload);
          if (errno === 0) return out;
          throw new NetlinkError(op, errno, extAckMessage(m));
        }
        if (m.type === NLMSG.DONE) return out;
        out.push(m);
      }
    }
  }

  // ---- links ----

  link(name: string): LinkInfo | undefined {
    try {
      const r = this.request(`get link ${name}`, RTM.GETLINK, 0, ifinfomsg(), [attrStr(IFLA.IFNAME, name)]);
      const m = r.find((x) => x.type === RTM.NEWLINK);
      return m ? parseLink(m.payload) : undefined;
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === 19 /* ENODEV */) return undefined;
      throw e;
    }
  }

  links(): LinkInfo[] {
    return this.request('list links', RTM.GETLINK, NLM_F_DUMP, ifinfomsg())
      .filter((m) => m.type === RTM.NEWLINK)
      .map((m) => parseLink(m.payload));
  }

  createBridge(name: string, opts: { mtu?: number; mac?: string } = {}): void {
    this.request(`create bridge ${name}`, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, ifinfomsg(), [
      attrStr(IFLA.IFNAME, name),
      ...(opts.mtu ? [attrU32(IFLA.MTU, opts.mtu)] : []),
      ...(opts.mac ? [attr(IFLA.ADDRESS, parseMac(opts.mac))] : []),
      attrNested(IFLA.LINKINFO, [attrStr(IFLA_INFO.KIND, 'bridge')]),
    ]);
  }

  /** A veth pair: `name` here, attached to `master`; its peer `peerName`
   * created straight in the network namespace open at `peerNetnsFd`. */
  createVeth(name: string, peerName: string, opts: { mtu: number; master: number; peerNetnsFd: number; peerMac?: string }): void {
    const peer = [
      attrStr(IFLA.IFNAME, peerName),
      attrU32(IFLA.MTU, opts.mtu),
      attrS32(IFLA.NET_NS_FD, opts.peerNetnsFd),
      ...(opts.peerMac ? [attr(IFLA.ADDRESS, parseMac(opts.peerMac))] : []),
    ];
    this.request(`create veth ${name}`, RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, ifinfomsg(), [
      attrStr(IFLA.IFNAME, name),
      attrU32(IFLA.MTU, opts.mtu),
      attrU32(IFLA.MASTER, opts.master),
      attrNested(IFLA.LINKINFO, [
        attrStr(IFLA_INFO.KIND, 'veth'),
        attrNested(IFLA_INFO.DATA, [attrNested(VETH_INFO_PEER, peer, ifinfomsg())]),
      ]),
    ]);
  }

  /** Moves a link into another network namespace (by pid), optionally renaming it there. */
  moveToNetns(index: number, pid: number, newName?: string): void {
    this.request(`move link ${index} to the netns of ${pid}`, RTM.NEWLINK, 0, ifinfomsg({ index }), [
      attrU32(IFLA.NET_NS_PID, pid),
      ...(newName ? [attrStr(IFLA.IFNAME, newName)] : []),
    ]);
  }

  rename(index: number, name: string): void {
    this.request(`rename link ${index} to ${name}`, RTM.NEWLINK, 0, ifinfomsg({ index }), [attrStr(IFLA.IFNAME, name)]);
  }

  setUp(index: number, what = String(index)): void {
    this.request(`set ${what} up`, RTM.NEWLINK, 0, ifinfomsg({ index, flags: IFF_UP, change: IFF_UP }));
  }

  /** Deletes a link by name; false when there was none. */
  deleteLink(name: string): boolean {
    try {
      this.request(`delete link ${name}`, RTM.DELLINK, 0, ifinfomsg(), [attrStr(IFLA.IFNAME, name)]);
      return true;
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === 19 /* ENODEV */) return false;
      throw e;
    }
  }

  // ---- addresses ----

  /** Adds an address (4 or 16 bytes); an existing identical one is fine when `exist_ok`. */
  addAddress(index: number, address: Buffer, prefixlen: number, opts: { broadcast?: Buffer; nodad?: boolean; existOk?: boolean; what?: string } = {}): void {
    const family = address.length === 4 ? AF.INET : AF.INET6;
    try {
      this.request(
        `add address to ${opts.what ?? index}`,
        RTM.NEWADDR,
        NLM_F.CREATE | NLM_F.EXCL,
        ifaddrmsg({ family, prefixlen, index, flags: opts.nodad ? IFA_F.NODAD : 0 }),
        [attr(IFA.LOCAL, address), attr(IFA.ADDRESS, address), ...(opts.broadcast ? [attr(IFA.BROADCAST, opts.broadcast)] : [])],
      );
    } catch (e) {
      if (opts.existOk && e instanceof NetlinkError && e.errno === 17 /* EEXIST */) return;
      throw e;
    }
  }

  addresses(family: number): AddrInfo[] {
    return this.request('list addresses', RTM.GETADDR, NLM_F_DUMP, ifaddrmsg({ family, prefixlen: 0, index: 0 }))
      .filter((m) => m.type === RTM.NEWADDR)
      .map((m) => parseAddr(m.payload));
  }

  // ---- routes ----

  /** The default route via `gateway` (4 or 16 bytes) out of link `oif`. */
  addDefaultRoute(gateway: Buffer, oif: number): void {
    const family = gateway.length === 4 ? AF.INET : AF.INET6;
    this.request(`add default route via the gateway`, RTM.NEWROUTE, NLM_F.CREATE | NLM_F.EXCL, rtmsg({ family }), [
      attr(RTA.GATEWAY, gateway),
      attrU32(RTA.OIF, oif),
    ]);
  }
}

/** The kernel's extended-ack text (NLMSGERR_ATTR_MSG), when it sent one. */
function extAckMessage(m: NlMsg): string | undefined {
  if (!(m.flags & NLM_F_ACK_TLVS)) return undefined;
  // payload: s32 error, the request's nlmsghdr (whole request unless capped), TLVs.
  const reqLen = m.flags & NLM_F_CAPPED ? 16 : m.payload.readUInt32LE(4);
  const tlvs = m.payload.subarray(4 + ((reqLen + 3) & ~3));
  try {
    const msg = findAttr(decodeAttrs(tlvs), NLMSGERR_ATTR_MSG);
    return msg ? attrString(msg) : undefined;
  } catch {
    return undefined;
  }
}
