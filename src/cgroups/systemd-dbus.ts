// The systemd driver's D-Bus side: transient units started, changed, stopped
// and reset over the system bus (the user bus rootless), waiting for each
// job's JobRemoved signal as runc does. The D-Bus client library
// (@jellybrick/dbus-next, a maintained fork of dbus-next) is required here,
// on first use only: commands without --systemd-cgroup never load it.
import { TsrunError } from '../errors';
import { parseSystemdVersion, type UnitProperty } from './systemd';

type DBusModule = typeof import('@jellybrick/dbus-next');
type Bus = import('@jellybrick/dbus-next').MessageBus;
type Msg = import('@jellybrick/dbus-next').Message;

let dbusModule: DBusModule | undefined;
function dbus(): DBusModule {
  // Resolved from this file's place (dist/ of the checkout; the bundle keeps
  // the library external): in the startup snapshot the plain `require`
  // knows only Node's built-in modules (as for koffi in sys/libc.ts).
  const { createRequire } = require('node:module') as typeof import('node:module');
  return (dbusModule ??= createRequire(__filename)('@jellybrick/dbus-next') as DBusModule);
}

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
/** How long a job may take (runc: 30 s). */
const JOB_TIMEOUT_MS = 30_000;

/** The bus address: DBUS_SYSTEM_BUS_ADDRESS (or the session bus's, rootless), else the usual sockets. */
export function busAddress(rootless: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (rootless) {
    if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
    if (env.XDG_RUNTIME_DIR) return `unix:path=${env.XDG_RUNTIME_DIR}/bus`;
    return `unix:path=/run/user/${process.getuid?.() ?? 0}/bus`;
  }
  return env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
}

/** One connection to systemd's manager. */
export class SystemdConnection {
  private readonly jobs = new Map<string, (result: string) => void>();
  private readonly finished = new Map<string, string>();
  private version?: number;

  private constructor(
    private readonly bus: Bus,
    private readonly address: string,
  ) {
    bus.on('message', (m: Msg) => {
      if (m.type !== dbus().MessageType.SIGNAL || m.interface !== MANAGER || m.member !== 'JobRemoved') return;
      const [, job, , result] = m.body as [number, string, string, string];
      const waiter = this.jobs.get(job);
      if (waiter) waiter(result);
      else this.finished.set(job, result);
    });
  }

  /** Connects, subscribes to the manager's job signals. */
  static async open(rootless: boolean): Promise<SystemdConnection> {
    const address = busAddress(rootless);
    const d = dbus();
    const bus = d.sessionBus({ busAddress: address });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TsrunError(`systemd cgroup driver: no answer from the D-Bus bus at ${address}`)), JOB_TIMEOUT_MS);
      const events = bus as unknown as NodeJS.EventEmitter;
      events.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      events.once('error', (e: Error) => {
        clearTimeout(timer);
        reject(new TsrunError(`systemd cgroup driver: cannot connect to the ${rootless ? 'user' : 'system'} bus at ${address}: ${e.message}`, { cause: e }));
      });
    });
    // Errors after the handshake reject the calls in flight instead.
    (bus as unknown as NodeJS.EventEmitter).on('error', () => {});
    const c = new SystemdConnection(bus, address);
    await c.callBus('AddMatch', 's', [`type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`]);
    await c.call('Subscribe', '', []);
    return c;
  }

  close(): void {
    try {
      this.bus.disconnect();
    } catch {
      // gone already
    }
  }

  private async callBus(member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    const d = dbus();
    const reply = await this.bus.call(new d.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member, signature, body }));
    return reply?.body ?? [];
  }

  private async call(member: string, signature: string, body: unknown[], iface = MANAGER, path = MANAGER_PATH): Promise<unknown[]> {
    const d = dbus();
    try {
      const reply = await this.bus.call(new d.Message({ destination: SYSTEMD, path, interface: iface, member, signature, body }));
      return reply?.body ?? [];
    } catch (e) {
      throw new SystemdError(member, e);
    }
  }

  /** The manager's Version (252 for "252.39-1~deb12u2"); 0 when unknown. */
  async systemdVersion(): Promise<number> {
    if (this.version !== undefined) return this.version;
    try {
      const [v] = await this.call('Get', 'ss', [MANAGER, 'Version'], 'org.freedesktop.DBus.Properties');
      this.version = parseSystemdVersion(String((v as { value: unknown }).value));
    } catch {
      this.version = 0;
    }
    return this.version;
  }

  /** A unit's property through the manager (e.g. ControlGroup of a scope). */
  async unitProperty(unit: string, iface: string, name: string): Promise<unknown> {
    const [path] = await this.call('GetUnit', 's', [unit]);
    const [v] = await this.call('Get', 'ss', [iface, name], 'org.freedesktop.DBus.Properties', String(path));
    return (v as { value: unknown }).value;
  }

  private variants(props: readonly UnitProperty[]): unknown[] {
    const d = dbus();
    return props.map((p) => [p.name, new d.Variant(p.sig, p.value)]);
  }

  /** StartTransientUnit and its job's end: anything but "done" resets the
   * failed unit and throws. A unit that exists already is left as it is (runc too). */
  async startTransientUnit(unit: string, props: readonly UnitProperty[]): Promise<void> {
    let job: string;
    try {
      [job] = (await this.call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', this.variants(props), []])) as [string];
    } catch (e) {
      if (e instanceof SystemdError && e.dbusName === 'org.freedesktop.systemd1.UnitExists') return;
      throw e;
    }
    const result = await this.waitJob(job, `creating systemd unit ${unit}`);
    if (result !== 'done') {
      await this.resetFailedUnit(unit);
      throw new TsrunError(`systemd cgroup driver: creating the unit ${unit} ended with "${result}"`);
    }
  }

  /** StopUnit and its job's end; a unit that is not there is not an error. */
  async stopUnit(unit: string): Promise<void> {
    let job: string;
    try {
      [job] = (await this.call('StopUnit', 'ss', [unit, 'replace'])) as [string];
    } catch (e) {
      if (e instanceof SystemdError && e.dbusName === 'org.freedesktop.systemd1.NoSuchUnit') return;
      throw e;
    }
    await this.waitJob(job, `stopping systemd unit ${unit}`);
  }

  /** ResetFailedUnit: a failed unit would otherwise stay listed (and block its name). */
  async resetFailedUnit(unit: string): Promise<void> {
    try {
      await this.call('ResetFailedUnit', 's', [unit]);
    } catch {
      // not failed, or gone
    }
  }

  /** SetUnitProperties (runtime: not persisted across reboots, as runc). */
  async setUnitProperties(unit: string, props: readonly UnitProperty[]): Promise<void> {
    if (props.length === 0) return;
    await this.call('SetUnitProperties', 'sba(sv)', [unit, true, this.variants(props)]);
  }

  private waitJob(job: string, what: string): Promise<string> {
    const done = this.finished.get(job);
    if (done !== undefined) {
      this.finished.delete(job);
      return Promise.resolve(done);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.jobs.delete(job);
        reject(new TsrunError(`systemd cgroup driver: timed out after ${JOB_TIMEOUT_MS / 1000} s ${what}`));
      }, JOB_TIMEOUT_MS);
      this.jobs.set(job, (result) => {
        clearTimeout(timer);
        this.jobs.delete(job);
        resolve(result);
      });
    });
  }

  toString(): string {
    return `systemd over ${this.address}`;
  }
}

/** A failed call to systemd, with the D-Bus error's name. */
export class SystemdError extends TsrunError {
  override name = 'SystemdError';
  readonly dbusName: string;
  constructor(member: string, e: unknown) {
    const err = e as { type?: string; text?: string; message?: string };
    super(`systemd cgroup driver: ${member} failed: ${err.text ?? err.message ?? String(e)}${err.type ? ` (${err.type})` : ''}`, { cause: e });
    this.dbusName = err.type ?? '';
  }
}

/** Opens a connection, runs fn, closes it. */
export async function withSystemd<T>(rootless: boolean, fn: (c: SystemdConnection) => Promise<T>): Promise<T> {
  const c = await SystemdConnection.open(rootless);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
