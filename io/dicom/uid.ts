/**
 * DICOM UIDs under the "2.25" root (PS3.5 B.2): a random UUID written as one
 * decimal integer, so no registered organisation root is needed.
 */

/**
 * Returns a new UID "2.25.<decimal value of a random version 4 UUID>" (at most 44 characters).
 *
 * @example
 * const studyUid = generateUid(); // "2.25.2889965218233877468876875999140431309..."
 */
export function generateUid(): string {
  const hex = crypto.randomUUID().replaceAll("-", "");
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** Implementation Class UID of files cheff writes, fixed so that readers can recognise the writer. */
export const IMPLEMENTATION_CLASS_UID = "2.25.288996521823387746887687599914043130916";
