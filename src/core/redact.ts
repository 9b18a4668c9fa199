/**
 * Keeping secrets out of messages.
 */

/** redis://user:secret@host → redis://user:********@host (any scheme); other strings unchanged. */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^@/]*@/i, '$1********@')
}
