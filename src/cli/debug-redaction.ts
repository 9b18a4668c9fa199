/**
 * `DEBUG=*` (the debug library's switch, read by oclif and ioredis) prints what those libraries
 * do, and they print credentials: ioredis logs every command it writes, `AUTH` with the Redis
 * password included, and oclif logs the whole command line (`--redis-url redis://:pw@…`). A debug
 * log is what gets pasted into a bug report, so its lines pass through here first. Loaded by
 * bin/run.js only when DEBUG is set.
 */
import {createRequire} from 'node:module'
import util from 'node:util'

import {maskUrlPassword} from '../core/redact.js'

/** The parts of the debug library this uses. */
interface DebugLibrary {
  log: (...args: unknown[]) => unknown
  inspectOpts?: util.InspectOptions
}

/** Names of variables and flags whose values are secrets. */
const SECRET_NAME = /password|passphrase|secret|token|auth/i
/** URLs inside a debug line (ended by whitespace or the quotes and brackets around them). */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s'"`,)\]]+/gi
/** ioredis's "write command[…]: 0 -> auth([ 'pw' ])" (and hello's AUTH form, ACL SETUSER…). */
const CREDENTIAL_COMMAND = /(-> (?:auth|hello|acl|migrate|config)\().*\)/gi
/** Shorter values are not replaced: they would garble every line, and hide nothing. */
const MIN_SECRET_LENGTH = 3

/** Every instance of the debug library that oclif and ioredis use gets a redacting `log`. */
export function installDebugRedaction(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv): void {
  const secrets = knownSecrets(env, argv)
  const require = createRequire(import.meta.url)
  const libraries = new Set<DebugLibrary>()
  for (const user of ['@oclif/core', 'ioredis']) {
    try {
      libraries.add(createRequire(require.resolve(user))('debug') as DebugLibrary)
    } catch {
      // Not installed with this user of it: nothing to cover there.
    }
  }
  for (const library of libraries) {
    library.log = (...args: unknown[]) => process.stderr.write(`${redactDebugText(util.formatWithOptions(library.inspectOpts ?? {}, ...args), secrets)}\n`)
  }
}

/** A debug line without the credentials it may hold. */
export function redactDebugText(text: string, secrets: readonly string[]): string {
  let redacted = text.replaceAll(CREDENTIAL_COMMAND, '$1********)').replaceAll(URL_IN_TEXT, (url) => maskUrlPassword(url))
  for (const secret of secrets) redacted = redacted.replaceAll(secret, '********')
  return redacted
}

/** Secret values this process was given: in the environment, and on its command line. */
export function knownSecrets(env: NodeJS.ProcessEnv, argv: readonly string[]): string[] {
  const secrets = new Set<string>()
  const add = (value: string | undefined) => {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH) secrets.add(value)
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
  // Longest first: a secret that contains another is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length)
}
