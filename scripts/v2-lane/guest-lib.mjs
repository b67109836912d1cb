// Helpers shared by the lane's guest scripts (guest-check.mjs, guest-systemd.mjs).

/** Polls fn every 100 ms until it returns something truthy (which it returns), or throws after ms. */
export async function waitFor(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
