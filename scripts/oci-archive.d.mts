/** Writes an OCI image-layout archive of `rootfs` to `out`, the image named `name`; returns `out`. */
export function ociArchive(rootfs: string, out: string, name: string): string;
