#!/usr/bin/env node
// Generate src/seccomp/syscalls.json: syscall name <-> number tables for the architectures the
// seccomp compiler supports (x86_64, x86 (i386), x32, aarch64).
//
// The authority is libseccomp itself, queried through `scmp_sys_resolver` (Debian package
// "seccomp"), so that a name means exactly what it means to runc + libseccomp:
//   - every number 0..MAX_NR is resolved to a name per architecture (x32 numbers carry the
//     __X32_SYSCALL_BIT, 0x40000000);
//   - every candidate name (from the kernel uapi headers and from the number scan) is resolved
//     back to a number per architecture, to catch aliases and libseccomp's "pseudo" numbers:
//     on x86 the socket and SysV IPC calls resolve to -1xx / -2xx, meaning libseccomp also
//     matches them through socketcall(2) / ipc(2) with the sub-call number in argument 0;
//   - negative numbers -10000..-10999 name the syscalls libseccomp knows but which do not exist
//     on x86_64; those absent from all four tables are listed in "otherNames" so that the
//     compiler can tell "known elsewhere, silently skipped" (like runc) from "unknown".
//
// Output format (compact, parsed once, decoded per architecture on demand):
//   arches.<arch>.base   number of the first entry (0, or 0x40000000 for x32)
//   arches.<arch>.names  comma-separated names indexed by (number - base); "" marks a hole
//   arches.<arch>.aliases  { name: number } for extra names of an already-named number
//   multiplexed.x86      { name: [muxSyscallNumber, subCall] }
//   otherNames           comma-separated names
//
// Usage: node scripts/gen-syscalls.mjs [--check]   (--check: fail if the file is out of date)

import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'src/seccomp/syscalls.json');
const RESOLVER = 'scmp_sys_resolver';
const X32_BIT = 0x40000000;
const MAX_NR = 1023;
const ARCHES = [
  { name: 'x86_64', base: 0 },
  { name: 'x86', base: 0 },
  { name: 'x32', base: X32_BIT },
  { name: 'aarch64', base: 0 },
];
const HEADERS = [
  '/usr/include/x86_64-linux-gnu/asm/unistd_64.h',
  '/usr/include/x86_64-linux-gnu/asm/unistd_32.h',
  '/usr/include/x86_64-linux-gnu/asm/unistd_x32.h',
  '/usr/include/asm-generic/unistd.h',
];

function die(msg) {
  process.stderr.write(`gen-syscalls: ${msg}\n`);
  process.exit(1);
}

/** Runs `scmp_sys_resolver -a arch -- arg` for many args with bounded concurrency. */
async function resolveMany(arch, args) {
  const out = new Array(args.length);
  let next = 0;
  const worker = async () => {
    while (next < args.length) {
      const i = next++;
      out[i] = await new Promise((resolve, reject) => {
        execFile(RESOLVER, ['-a', arch, '--', String(args[i])], (err, stdout) => {
          if (err) reject(new Error(`${RESOLVER} -a ${arch} ${args[i]}: ${err.message}`));
          else resolve(stdout.trim());
        });
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

function headerNames() {
  const names = new Set();
  for (const h of HEADERS) {
    if (!existsSync(h)) continue;
    for (const m of readFileSync(h, 'utf8').matchAll(/^#define __NR(?:3264)?_([a-z0-9_]+)\s/gm)) {
      if (m[1] !== 'syscalls' && m[1] !== 'arch_specific_syscall') names.add(m[1]);
    }
  }
  return names;
}

async function main() {
  const check = process.argv.includes('--check');
  try {
    execFileSync(RESOLVER, ['-a', 'x86_64', 'read'], { stdio: 'pipe' });
  } catch {
    die(`${RESOLVER} not found or not working (Debian/Ubuntu: apt-get install seccomp)`);
  }
  let version = 'unknown';
  try {
    version = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'libseccomp2'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a dpkg system: leave "unknown" */
  }

  const numbers = Array.from({ length: MAX_NR + 1 }, (_, i) => i);

  // Pass 1: number -> name on every architecture.
  const byNumber = {};
  const candidates = headerNames();
  for (const { name: arch, base } of ARCHES) {
    const names = await resolveMany(arch, numbers.map((n) => n + base));
    const table = new Map();
    names.forEach((n, i) => {
      if (n !== 'UNKNOWN' && n !== '') {
        table.set(i + base, n);
        candidates.add(n);
      }
    });
    byNumber[arch] = table;
  }

  // Names libseccomp knows only for other architectures (pseudo numbers on x86_64).
  const pseudoArgs = Array.from({ length: 1000 }, (_, i) => -10000 - i);
  const pseudo = (await resolveMany('x86_64', pseudoArgs)).filter((n) => n !== 'UNKNOWN' && n !== '');
  for (const n of pseudo) candidates.add(n);
  // x86 multiplexed pseudo-syscalls (-1xx socketcall, -2xx ipc), e.g. send/recv exist only there.
  const muxArgs = Array.from({ length: 30 }, (_, i) => -100 - i).concat(Array.from({ length: 30 }, (_, i) => -200 - i));
  for (const n of await resolveMany('x86', muxArgs)) if (n !== 'UNKNOWN' && n !== '') candidates.add(n);
  const candidateList = [...candidates].sort();

  // Pass 2: name -> number on every architecture.
  const result = { arches: {}, multiplexed: {} };
  const known = new Set();
  for (const { name: arch, base } of ARCHES) {
    const nums = await resolveMany(arch, candidateList);
    const table = byNumber[arch];
    const named = new Set(table.values());
    const aliases = {};
    const mux = {};
    candidateList.forEach((name, i) => {
      const nr = Number(nums[i]);
      if (!Number.isInteger(nr)) die(`unexpected output for -a ${arch} ${name}: ${JSON.stringify(nums[i])}`);
      if (nr >= 0) {
        if (table.get(nr) === name) return;
        if (!table.has(nr)) die(`${arch}: ${name} resolves to ${nr}, but ${nr} resolves to nothing`);
        if (named.has(name)) die(`${arch}: ${name} resolves to ${nr} but is also the name of another number`);
        aliases[name] = nr;
      } else if (arch === 'x86' && ((nr <= -100 && nr >= -120) || (nr <= -200 && nr >= -224))) {
        // libseccomp's multiplexed pseudo-syscalls: -1xx = socketcall(xx), -2xx = ipc(xx).
        mux[name] = nr > -200 ? [-nr % 100, 'socketcall'] : [-nr % 200, 'ipc'];
      }
    });
    // Encode the table as a comma string indexed by number - base.
    const maxNr = Math.max(...table.keys());
    const slots = [];
    for (let nr = base; nr <= maxNr; nr++) slots.push(table.get(nr) ?? '');
    for (const n of table.values()) {
      if (!/^[a-z0-9_]+$/.test(n)) die(`${arch}: unexpected syscall name ${JSON.stringify(n)}`);
      known.add(n);
    }
    for (const n of Object.keys(aliases)) known.add(n);
    const entry = { base, names: slots.join(',') };
    if (Object.keys(aliases).length > 0) entry.aliases = aliases;
    result.arches[arch] = entry;
    if (Object.keys(mux).length > 0) {
      const muxNr = {};
      for (const m of ['socketcall', 'ipc']) {
        const nr = [...table].find(([, n]) => n === m)?.[0];
        if (nr === undefined) die(`${arch}: multiplexer ${m} has no number`);
        muxNr[m] = nr;
      }
      const out = {};
      for (const [name, [sub, via]] of Object.entries(mux).sort()) {
        out[name] = [muxNr[via], sub];
        known.add(name);
      }
      result.multiplexed[arch] = out;
    }
  }
  const otherNames = pseudo.filter((n) => !known.has(n)).sort();

  // Compact but diff-friendly: one line per architecture.
  const lines = [
    '{',
    `"comment":${JSON.stringify('Generated by scripts/gen-syscalls.mjs from scmp_sys_resolver; do not edit.')},`,
    `"libseccomp":${JSON.stringify(version)},`,
    '"arches":{',
    Object.entries(result.arches)
      .map(([a, e]) => `${JSON.stringify(a)}:${JSON.stringify(e)}`)
      .join(',\n'),
    '},',
    `"multiplexed":${JSON.stringify(result.multiplexed)},`,
    `"otherNames":${JSON.stringify(otherNames.join(','))}`,
    '}',
    '',
  ];
  const text = lines.join('\n');
  if (check) {
    const old = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
    // The libseccomp version line may legitimately differ between hosts; compare the tables.
    const strip = (s) => s.replace(/^"libseccomp":.*$/m, '');
    if (strip(old) !== strip(text)) die(`${OUT} is out of date; run node scripts/gen-syscalls.mjs`);
    process.stdout.write('syscalls.json is up to date\n');
    return;
  }
  writeFileSync(OUT, text);
  const counts = Object.entries(byNumber).map(([a, t]) => `${a}=${t.size}`);
  process.stdout.write(`wrote ${OUT} (${counts.join(' ')}, other=${otherNames.length})\n`);
}

main().catch((err) => die(err instanceof Error ? err.message : String(err)));
