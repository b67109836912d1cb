// An OCI image-layout archive (`ctr images import` reads it) holding one
// image: a rootfs as a single uncompressed layer. Shared by the containerd
// tests (integration/clients.ts) and the shim benchmark (bench/shim.mjs),
// which need an image without a registry.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes the archive to `out` with the image named `name`; returns `out`. */
export function ociArchive(rootfs, out, name) {
  const layout = `${out}.layout`;
  rmSync(layout, { recursive: true, force: true });
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const blob = (data) => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(layout, 'blobs/sha256', hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const json = (value) => blob(Buffer.from(JSON.stringify(value)));
  // Numeric owners, as in an image layer.
  execFileSync('tar', ['--numeric-owner', '-C', rootfs, '-cf', `${out}.layer.tar`, '.']);
  const layer = blob(readFileSync(`${out}.layer.tar`));
  unlinkSync(`${out}.layer.tar`);
  const config = json({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  });
  const manifestType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = json({
    schemaVersion: 2,
    mediaType: manifestType,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tag = name.slice(name.lastIndexOf(':') + 1);
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: manifestType, ...manifest, annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  try {
    execFileSync('tar', ['-C', layout, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  return out;
}
