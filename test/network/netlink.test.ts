import { describe, expect, it } from 'vitest';
import {
  AF,
  attrNested,
  attrStr,
  attrU32,
  decodeAttrs,
  decodeMessages,
  encodeAttrs,
  encodeMessage,
  findAttr,
  attrString,
  formatMac,
  IFLA,
  IFLA_INFO,
  ifaddrmsg,
  ifinfomsg,
  NLA_F_NESTED,
  NLM_F,
  parseAddr,
  parseError,
  parseIfinfomsg,
  parseLink,
  parseMac,
  parseRtmsg,
  RTM,
  rtmsg,
  RT_TABLE_MAIN,
  VETH_INFO_PEER,
  NLMSG,
} from '../../src/network/netlink';

describe('netlink encoding', () => {
  it('pads attributes to 4 bytes and records the unpadded length', () => {
    const b = encodeAttrs([attrStr(IFLA.IFNAME, 'eth0')]);
    // len 4 + "eth0\0" = 9, padded to 12
    expect(b.length).toBe(12);
    expect(b.readUInt16LE(0)).toBe(9);
    expect(b.readUInt16LE(2)).toBe(IFLA.IFNAME);
    expect(b.subarray(4, 9).toString('latin1')).toBe('eth0\0');
    expect([...b.subarray(9)]).toEqual([0, 0, 0]);
  });

  it('encodes a message header with the total length, type, flags and sequence', () => {
    const m = encodeMessage(RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL, 42, ifinfomsg(), [attrU32(IFLA.MTU, 1400)]);
    expect(m.length).toBe(16 + 16 + 8);
    expect(m.readUInt32LE(0)).toBe(m.length);
    expect(m.readUInt16LE(4)).toBe(16);
    expect(m.readUInt16LE(6)).toBe(0x1 | 0x4 | 0x400 | 0x200);
    expect(m.readUInt32LE(8)).toBe(42);
    expect(m.readUInt32LE(12)).toBe(0);
  });

  it('matches the bytes `ip link add tsv0 type veth peer name eth0 netns FD` sends', () => {
    const peer = attrNested(VETH_INFO_PEER, [attrStr(IFLA.IFNAME, 'eth0'), attrU32(IFLA.NET_NS_FD, 7)], ifinfomsg());
    const linkinfo = attrNested(IFLA.LINKINFO, [attrStr(IFLA_INFO.KIND, 'veth'), attrNested(IFLA_INFO.DATA, [peer])]);
    const msg = encodeMessage(RTM.NEWLINK, NLM_F.REQUEST, 1, ifinfomsg(), [attrStr(IFLA.IFNAME, 'tsv0'), linkinfo]);
    const [m] = decodeMessages(msg);
    expect(m!.type).toBe(RTM.NEWLINK);
    const attrs = decodeAttrs(m!.payload.subarray(16));
    expect(attrString(findAttr(attrs, IFLA.IFNAME)!)).toBe('tsv0');
    // The nested flag is set on the wire and stripped when decoding.
    const raw = m!.payload.subarray(16 + 12);
    expect(raw.readUInt16LE(2)).toBe(IFLA.LINKINFO | NLA_F_NESTED);
    const li = decodeAttrs(findAttr(attrs, IFLA.LINKINFO)!);
    expect(attrString(findAttr(li, IFLA_INFO.KIND)!)).toBe('veth');
    const data = decodeAttrs(findAttr(li, IFLA_INFO.DATA)!);
    const peerBuf = findAttr(data, VETH_INFO_PEER)!;
    expect(parseIfinfomsg(peerBuf).index).toBe(0);
    const peerAttrs = decodeAttrs(peerBuf.subarray(16));
    expect(attrString(findAttr(peerAttrs, IFLA.IFNAME)!)).toBe('eth0');
    expect(findAttr(peerAttrs, IFLA.NET_NS_FD)!.readUInt32LE(0)).toBe(7);
  });

  it('lays out ifinfomsg, ifaddrmsg and rtmsg as the kernel does', () => {
    const i = ifinfomsg({ index: 5, flags: 1, change: 1 });
    expect([...i]).toEqual([0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    const a = ifaddrmsg({ family: AF.INET, prefixlen: 24, index: 3 });
    expect([...a]).toEqual([2, 24, 0, 0, 3, 0, 0, 0]);
    const r = rtmsg({ family: AF.INET });
    expect(r.length).toBe(12);
    expect(parseRtmsg(r)).toMatchObject({ family: 2, dstLen: 0, table: RT_TABLE_MAIN, protocol: 4, scope: 0, type: 1 });
  });
});

describe('netlink decoding', () => {
  it('splits a datagram with several messages', () => {
    const a = encodeMessage(RTM.NEWLINK, NLM_F.MULTI, 9, ifinfomsg({ index: 1 }), [attrStr(IFLA.IFNAME, 'lo')]);
    const done = encodeMessage(NLMSG.DONE, NLM_F.MULTI, 9, Buffer.alloc(4));
    const ms = decodeMessages(Buffer.concat([a, done]));
    expect(ms.map((m) => m.type)).toEqual([RTM.NEWLINK, NLMSG.DONE]);
    expect(parseLink(ms[0]!.payload)).toMatchObject({ index: 1, name: 'lo' });
  });

  it('reads a link with its kind, MTU, master and MAC', () => {
    const payload = Buffer.concat([
      ifinfomsg({ index: 12, flags: 0x1043 }),
      encodeAttrs([
        attrStr(IFLA.IFNAME, 'tsrun0'),
        attrU32(IFLA.MTU, 1400),
        attrU32(IFLA.MASTER, 3),
        { type: IFLA.ADDRESS, data: parseMac('06:74:0a:d5:00:01') },
        attrNested(IFLA.LINKINFO, [attrStr(IFLA_INFO.KIND, 'bridge')]),
      ]),
    ]);
    expect(parseLink(payload)).toEqual({ index: 12, name: 'tsrun0', flags: 0x1043, mtu: 1400, master: 3, kind: 'bridge', mac: '06:74:0a:d5:00:01' });
  });

  it('reads an address', () => {
    const payload = Buffer.concat([ifaddrmsg({ family: AF.INET, prefixlen: 24, index: 4 }), encodeAttrs([{ type: 2, data: Buffer.from([10, 213, 0, 5]) }])]);
    const a = parseAddr(payload);
    expect(a).toMatchObject({ family: AF.INET, prefixlen: 24, index: 4 });
    expect([...a.address]).toEqual([10, 213, 0, 5]);
  });

  it('reads errors and acks', () => {
    const ack = Buffer.alloc(4 + 16);
    ack.writeInt32LE(0, 0);
    ack.writeUInt32LE(77, 4 + 8);
    expect(parseError(ack)).toEqual({ errno: 0, seq: 77 });
    const err = Buffer.alloc(4 + 16);
    err.writeInt32LE(-17, 0);
    expect(parseError(err).errno).toBe(17);
  });

  it('rejects truncated messages and attributes', () => {
    const m = encodeMessage(RTM.NEWLINK, 0, 1, ifinfomsg());
    m.writeUInt32LE(999, 0);
    expect(() => decodeMessages(m)).toThrow(/malformed message/);
    const a = encodeAttrs([attrU32(IFLA.MTU, 1)]);
    a.writeUInt16LE(40, 0);
    expect(() => decodeAttrs(a)).toThrow(/malformed attribute/);
  });

  it('parses and formats MAC addresses', () => {
    expect(formatMac(parseMac('02:74:0A:d5:00:02'))).toBe('02:74:0a:d5:00:02');
    expect(() => parseMac('02:74:0a')).toThrow(/invalid MAC/);
  });
});
