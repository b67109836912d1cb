import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { mapMethod } from '../../src/namespaces/idmap';

const me = { uid: 1000, gid: 1000, name: 'someone' };
const own = [{ containerID: 0, hostID: 1000, size: 1 }];
const wide = [
  { containerID: 0, hostID: 1000, size: 1 },
  { containerID: 1, hostID: 100000, size: 65536 },
];

describe('mapMethod (unprivileged)', () => {
  it('maps its own ids directly, without helpers', () => {
    expect(mapMethod(own, own, me, () => undefined)).toBe('direct');
  });

  it('refuses wider mappings with one clear line when newuidmap is missing', () => {
    const call = () => mapMethod(wide, own, me, () => undefined);
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(/these uid mappings need newuidmap \(Debian's uidmap package\)/);
  });

  it('names newgidmap when only the gid mapping needs it and it is missing', () => {
    const find = (name: string) => (name === 'newuidmap' ? '/usr/bin/newuidmap' : undefined);
    expect(() => mapMethod(own, wide, { ...me, uid: 1000 }, find)).toThrow(/these gid mappings need newgidmap/);
  });
});
