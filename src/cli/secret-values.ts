/**
 * The secret values one CLI process was given, so that messages (errors a plugin words, debug
 * lines) can be cleaned of them: see redactSecrets in src/core/redact.ts.
 */

/** Names of variables and flags whose values are secrets. */
const SECRET_NAME = /password|passphrase|secret|token|auth|access[-_]?key|crypto[-_]?key|api[-_]?key/i
/** Shorter values are not replaced: they would garble every line, and hide nothing. */
const MIN_SECRET_LENGTH = 3

/** Secret values this process was given: in the environment, on its command line, and `more` (e.g. resolved secret options). */
export function knownSecrets(env: NodeJS.ProcessEnv, argv: readonly string[], more: Iterable<unknown> = []): string[] {
  const secrets = new Set<string>()
  const add = (value: unknown) => {
    // "revoked" is the tombstone's access key: a word every message may say, not a secret.
    if (typeof value === 'string' && value.length >= MIN_SECRET_LENGTH && value !== 'revoked') secrets.add(value)
  }
  for (const [name, value] of Object.entries(env)) {
    if ((name.startsWith('HIVEMIND_') || name === 'REDISCLI_AUTH') && SECRET_NAME.test(name)) add(value)
  }
  for (const [index, arg] of argv.entries()) {
    const flag = /^--?([^=]+)(?:=(.*))?$/s.exec(arg)
    if (!flag) continue
    const [, name, inline] = flag
    const value = inline ?? argv[index + 1]
    if (SECRET_NAME.test(name!)) add(value)
    // --db-option token=…: a backend option may be a secret too.
    if (/option$/.test(name!) && value !== undefined) {
      const [key, ...rest] = value.split('=')
      if (rest.length > 0 && SECRET_NAME.test(key!)) add(rest.join('='))
    }
  }
  for (const value of more) add(value)
  // Longest first: a secret that contains another is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length)
}
