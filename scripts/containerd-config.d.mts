export function containerdConfig(dir: string, sock: string, level?: string): string;
