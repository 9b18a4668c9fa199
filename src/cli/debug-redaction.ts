/**
 * `DEBUG=*` (the debug library's switch, read by oclif and ioredis) prints what those libraries
 * do, and they print credentials: ioredis logs every command it writes, `AUTH` with the Redis
 * password included, and oclif logs the whole command line (`--redis-url redis://:pw@…`). A debug
 * log is what gets pasted into a bug report, so its lines pass through here first. Loaded by
 * bin/run.js only when DEBUG is set.
 */
import {createRequire} from 'node:module'
import util from 'node:util'

import {redactSecrets} from '../core/redact.js'
import {knownSecrets} from './secret-values.js'

/** The parts of the debug library this uses. */
interface DebugLibrary {
  log: (...args: unknown[]) => unknown
  inspectOpts?: util.InspectOptions
}

/**
 * ioredis's "write command[…]: 0 -> auth([ 'pw' ])" (and hello's AUTH form, ACL SETUSER…), and the
 * commands that carry client records: the store's scripts (evalsha) take access keys, passwords
 * and crypto keys as arguments, including a key generated in this very run, which no list of
 * known secrets holds.
 */
const CREDENTIAL_COMMAND = /(-> (?:auth|hello|acl|migrate|config|evalsha|evalsha_ro|eval|eval_ro|fcall|hset|hsetnx|hmset|hget|hmget|hdel|hexists)\().*\)/gi

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
  // Nothing in a debug line is our wording: every secret is masked, one of our words too (QA: a
  // Redis password "OpenVoiceOS" showed in oclif's argv dump).
  return redactSecrets(text.replaceAll(CREDENTIAL_COMMAND, '$1********)'), secrets, {ownWordsStay: false})
}
