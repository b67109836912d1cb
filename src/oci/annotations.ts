// Annotations tsrun itself reads from config.json.

/** Opt-in to run without settings the host cannot apply (each one warned
 * about). Without it such a setting fails the operation, as the runtime spec
 * demands ("MUST generate an error") and runc does. */
export const LENIENT_ANNOTATION = 'io.github.tsrun.ignore-unsupported';

export function isLenient(annotations: Record<string, string> | undefined): boolean {
  return annotations?.[LENIENT_ANNOTATION] === 'true';
}
