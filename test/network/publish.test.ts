import { describe, expect, it } from 'vitest';
import { formatPublish, parsePublish, publishConflicts } from '../../src/network/publish';

describe('--publish', () => {
  it('parses host address, ports and protocol', () => {
    expect(parsePublish('127.0.0.1:8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, proto: 'tcp' });
    expect(parsePublish('8080:80')).toEqual({ hostPort: 8080, containerPort: 80, proto: 'tcp' });
    expect(parsePublish('0.0.0.0:53:53/udp')).toEqual({ hostPort: 53, containerPort: 53, proto: 'udp' });
    expect(parsePublish(':8443:443/TCP')).toEqual({ hostPort: 8443, containerPort: 443, proto: 'tcp' });
  });

  it('rejects bad specs with a clear message', () => {
    expect(() => parsePublish('80')).toThrow(/invalid --publish "80": expected \[HOST_IP:\]HOST_PORT:CONTAINER_PORT/);
    expect(() => parsePublish('1.2.3:80:80')).toThrow(/"1.2.3" is not an IPv4 address/);
    expect(() => parsePublish('127.0.0.1:0:80')).toThrow(/port 0 is out of range/);
    expect(() => parsePublish('127.0.0.1:8080:70000')).toThrow(/port 70000 is out of range/);
    expect(() => parsePublish('127.0.0.1:http:80')).toThrow(/"http" is not a port number/);
    expect(() => parsePublish('8080:80/sctp')).toThrow(/protocol "sctp"/);
    expect(() => parsePublish('[::1]:8080:80')).toThrow(/IPv6/);
    expect(() => parsePublish('a:b:c:d')).toThrow(/invalid --publish/);
  });

  it('formats and detects conflicts', () => {
    expect(formatPublish(parsePublish('127.0.0.1:8080:80'))).toBe('127.0.0.1:8080:80/tcp');
    const a = parsePublish('127.0.0.1:8080:80');
    expect(publishConflicts(a, parsePublish('8080:81'))).toBe(true); // all addresses include 127.0.0.1
    expect(publishConflicts(a, parsePublish('127.0.0.2:8080:80'))).toBe(false);
    expect(publishConflicts(a, parsePublish('127.0.0.1:8080:80/udp'))).toBe(false);
  });
});
