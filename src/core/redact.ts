/**
 * Keeping secrets out of messages.
 */

/** redis://user:secret@host → redis://user:********@host (any scheme); other strings unchanged. */
export function maskUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^@/]*@/i, '$1********@')
}

/**
 * redis://user:secret@host → redis://user@host, redis://:secret@host → redis://host: what may be
 * written to a config file (the password then comes from the environment or the config file's own
 * secret option). Other strings unchanged.
 */
export function stripUrlPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/:@]*):[^@/]*@/i, (_match, scheme: string, user: string) => (user === '' ? scheme : `${scheme}${user}@`))
}

/**
 * What logs and messages show of a URL: the password masked, and every query value too
 * (ws://bus/core?token=… carries a credential as often as a user:password does).
 */
export function maskUrlSecrets(value: string): string {
  const masked = maskUrlPassword(value)
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(masked)) return masked
  return masked.replace(/\?([^#]*)/, (_match, query: string) =>
    `?${query
      .split('&')
      .map((pair) => (pair.includes('=') ? `${pair.slice(0, pair.indexOf('='))}=********` : pair))
      .join('&')}`)
}
