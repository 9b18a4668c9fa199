/**
 * Keeping secrets out of messages.
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

/** Where a URL's password is: value.slice(from, to); `user` ends at `from - 1` (the colon). */
interface PasswordSpan {
  /** Index of the first character after the scheme's `//`. */
  authority: number
  /** First index of the password (after the user's colon). */
  from: number
  /** Index of the `@` that ends the user information. */
  to: number
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * Finds the password of `scheme://user:password@host…`. A raw `@` or `/` in a password is read
 * the way the pg driver reads it: the user information ends at the LAST `@` before any `?` or `#`
 * (a raw `/` would otherwise hide that `@` behind a "path"). The one exception is a port:
 * `host:5432/db@x` has no password. So an `@` in a path must be percent-encoded (`%40`), as it
 * must for the drivers too; masking more than a driver would is harmless, showing part of a
 * password is not.
 */
function passwordSpan(value: string): PasswordSpan | undefined {
  const scheme = SCHEME.exec(value)
  if (!scheme) return undefined
  const authority = scheme[0].length
  let stop = value.length
  for (const mark of ['?', '#']) {
    const index = value.indexOf(mark, authority)
    if (index !== -1 && index < stop) stop = index
  }
  const at = value.lastIndexOf('@', stop - 1)
  const colon = value.indexOf(':', authority)
  if (at < authority || colon === -1 || colon > at) return undefined
  const slash = value.indexOf('/', authority)
  if (slash !== -1 && slash < at && value.lastIndexOf('@', slash) < authority && /^\d+$/.test(value.slice(colon + 1, slash))) return undefined
  return {authority, from: colon + 1, to: at}
}

/** Whether `value` is a URL holding a password (scheme://user:password@host). */
export function hasUrlPassword(value: string): boolean {
  return passwordSpan(value) !== undefined
}

/** redis://user:secret@host → redis://user:********@host (any scheme); other strings unchanged. */
export function maskUrlPassword(value: string): string {
  const span = passwordSpan(value)
  return span ? `${value.slice(0, span.from)}********${value.slice(span.to)}` : value
}

/**
 * redis://user:secret@host → redis://user@host, redis://:secret@host → redis://host: what may be
 * written to a config file (the password then comes from the environment or the config file's own
 * secret option). Other strings unchanged.
 */
export function stripUrlPassword(value: string): string {
  const span = passwordSpan(value)
  if (!span) return value
  const user = value.slice(span.authority, span.from - 1)
  return user === '' ? `${value.slice(0, span.authority)}${value.slice(span.to + 1)}` : `${value.slice(0, span.from - 1)}${value.slice(span.to)}`
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

/** URLs inside a text (ended by whitespace or the quotes and brackets around them). */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s'"`,)\]]+/gi

/** A letter, digit, `_` or `-`: next to one, a secret's text is part of a longer word. */
const WORD_CHARACTER = '[\\p{L}\\p{N}_-]'

/**
 * `text` with every URL's password masked and every one of `secrets` (longest first) replaced by
 * ********: for text this project does not word itself (a plugin's error, a library's debug line).
 * Only where a secret stands as a word of its own (foreign text quotes a value whole: `value is
 * "…"`, `AUTH …`): masked inside longer words, a Redis password "hivemind" turned every
 * "hivemind-core" of a hint into "********-core", and a rejected passphrase "back" the "backup" of
 * its error into "********up", which garbled the text and showed which part was the secret (QA).
 * `ownWordsStay` (default true) leaves a secret that is one of our own words (see isOwnWord): for
 * messages we word. Debug lines (argv dumps, library traces) pass false: nothing there is ours.
 */
export function redactSecrets(text: string, secrets: readonly string[], {ownWordsStay = true}: {ownWordsStay?: boolean} = {}): string {
  // A URL of our own hints (`redis://[user:password@]host`) holds a word, not a password.
  let redacted = text.replaceAll(URL_IN_TEXT, (url) => {
    const span = passwordSpan(url)
    return span && ownWordsStay && isOwnWord(url.slice(span.from, span.to)) ? url : maskUrlPassword(url)
  })
  for (const secret of secrets) {
    if (!redacted.includes(secret) || (ownWordsStay && isOwnWord(secret))) continue
    const standalone = new RegExp(`(?<!${WORD_CHARACTER})${escapeRegExp(secret)}(?!${WORD_CHARACTER})`, 'gu')
    redacted = redacted.replace(standalone, '********')
  }
  return redacted
}

/** Words, as the masking sees them: runs of letters, digits, `_` and `-`. */
const WORDS = /[\p{L}\p{N}_-]+/gu

let ownWords: ReadonlySet<string> | undefined

/**
 * Whether `secret` is one of the words hivemind-core's own code is written with: its messages say
 * "password", "passphrase", "short", "Redis". Where such a word stands in a message, it cannot be
 * told apart from the message's own wording, so masking it hides nothing and shows the secret by
 * the gap: a Redis password "password" turned "wrong password" into "wrong ********" and the hint
 * "database.redis.password" into "database.redis.********" (QA). Such a secret is as weak as a
 * secret gets; doctor and the docs advise generated ones. Words of five characters or more
 * only. Read from this package's own files (dist/ when installed, src/ under tsx) once, the
 * first time a message holds a secret.
 */
function isOwnWord(secret: string): boolean {
  // Plain words only, as messages are written with ("password", "Redis", "PASSWORD"): not our code's short
  // names (`pw`, `db`), nor names such as "OpenVoiceOS" or "redis-password", which are also
  // plausible passwords and never a message's own wording.
  if (secret.length < 5 || !/^(?:[A-Za-z][a-z]+|[A-Z]+)$/.test(secret)) return false
  ownWords ??= readOwnWords()
  return ownWords.has(secret)
}

function readOwnWords(): ReadonlySet<string> {
  const words = new Set<string>()
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
  try {
    for (const entry of readdirSync(root, {recursive: true, encoding: 'utf8'})) {
      if (!/\.(js|ts)$/.test(entry) || entry.endsWith('.d.ts')) continue
      for (const word of readFileSync(path.join(root, entry), 'utf8').match(WORDS) ?? []) words.add(word)
    }
  } catch {
    // Unreadable: every secret is masked, as before.
  }
  return words
}

function escapeRegExp(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
