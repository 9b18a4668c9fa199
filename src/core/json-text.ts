/**
 * JSON.parse whose errors never quote the text. V8's messages repeat the text around the error
 * (`Unexpected token ''', ..."assword": 'SECRETPAS"... is not valid JSON`) or the offending
 * character, and the files we parse (clients.json, config files, import files) hold access keys
 * and passwords. A syntax error is said as line, column and what was expected instead; where it is,
 * jsonc-parser finds (loaded only after JSON.parse failed: V8 gives no position for most errors).
 */
import type * as Jsonc from 'jsonc-parser'

import {requireCjs} from './require-cjs.js'

/** A JSON syntax error: where (1-based line and column) and what, without any of the text. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    /** What is wrong there, e.g. "a property name in double quotes was expected". */
    readonly reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`)
    this.name = 'JsonSyntaxError'
  }
}

/** What to tell someone who edited JSON by hand, for a hint. */
export const JSON_SYNTAX_HINT = 'JSON takes double quotes around names and strings, lower-case true, false and null, and no comments or trailing commas'

/** The UTF-8 byte order mark some editors (Windows Notepad) write first; it is not JSON. */
const BYTE_ORDER_MARK = '\uFEFF'

/**
 * Parses JSON text; a leading byte order mark is skipped. Throws {@link JsonSyntaxError} for text
 * that is not JSON (whitespace only included: "a value was expected").
 */
export function parseJson(text: string): unknown {
  const body = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text
  try {
    return JSON.parse(body)
  } catch (error) {
    throw locateSyntaxError(body, error)
  }
}

/** The reason of each jsonc-parser error code, in words (its own names are identifiers). */
const REASONS: Record<number, string> = {
  1: 'unexpected character',
  2: 'invalid number',
  3: 'a property name in double quotes was expected',
  4: 'a value was expected',
  5: "':' was expected",
  6: "',' was expected",
  7: "'}' was expected",
  8: "']' was expected",
  9: 'nothing may follow the JSON value',
  10: 'comments are not allowed in JSON',
  11: 'unterminated comment',
  12: 'unterminated string',
  13: 'unterminated number',
  14: 'invalid \\u escape',
  15: 'invalid escape sequence',
  16: 'a control character inside a string (write it as an escape, e.g. \\n)',
}

function locateSyntaxError(text: string, error: unknown): JsonSyntaxError {
  const {parse} = requireCjs('jsonc-parser') as typeof Jsonc
  const errors: Jsonc.ParseError[] = []
  parse(text, errors, {disallowComments: true, allowTrailingComma: false, allowEmptyContent: false})
  const first = errors[0]
  if (first) return at(text, first.offset, REASONS[first.error] ?? 'not valid JSON')
  // The two parsers disagree (they should not): V8's position, when it gives one, and its words
  // without anything quoted.
  const message = error instanceof Error ? error.message : String(error)
  const position = /at position (\d+)/.exec(message)
  const reason = message
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/, (\.\.\.)?".*$/s, '')
    .replace(/^Unexpected token .*$/s, 'unexpected character')
  return at(text, position ? Number(position[1]) : 0, reason || 'not valid JSON')
}

/** The error at a character offset of `text` (after any byte order mark, which editors do not count either). */
function at(text: string, offset: number, reason: string): JsonSyntaxError {
  const before = text.slice(0, offset)
  const lineStart = before.lastIndexOf('\n') + 1
  let line = 1
  for (let index = before.indexOf('\n'); index !== -1; index = before.indexOf('\n', index + 1)) line++
  return new JsonSyntaxError(line, offset - lineStart + 1, reason)
}

/** A name that appears twice in one object: where its second appearance is, and the path to the object. */
export interface DuplicateName {
  /** Names of the enclosing objects' members (an index for a list's element), outermost first ([] for the top-level object). */
  path: string[]
  name: string
  line: number
  column: number
}

/**
 * The first name that appears twice in one object, looking only `maxDepth` objects deep (1: the
 * top-level object's own names). JSON.parse keeps the last of them without a word; a clients file
 * edited by hand (a client pasted twice) then loses the first one at the next write.
 */
export function findDuplicateName(text: string, maxDepth: number): DuplicateName | undefined {
  const {visit} = requireCjs('jsonc-parser') as typeof Jsonc
  const body = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text
  // One entry per open object or array: the names seen in it (objects within maxDepth only), and
  // whether it is a member's value (its name is then on `path`).
  const open: Array<{names?: Set<string>; named: boolean; elements?: number}> = []
  const path: string[] = []
  let member: string | undefined
  let objects = 0
  let found: DuplicateName | undefined
  // An element of a list is named by its index.
  const element = () => {
    const parent = open.at(-1)
    if (parent?.elements !== undefined) member = String(parent.elements++)
  }
  const begin = (isObject: boolean) => {
    element()
    if (isObject) objects++
    open.push({...(isObject && objects <= maxDepth ? {names: new Set<string>()} : {}), ...(isObject ? {} : {elements: 0}), named: member !== undefined})
    if (member !== undefined) path.push(member)
    member = undefined
  }
  const end = (isObject: boolean) => {
    if (isObject) objects--
    if (open.pop()?.named) path.pop()
    member = undefined
  }
  visit(body, {
    onObjectBegin: () => begin(true),
    onObjectEnd: () => end(true),
    onArrayBegin: () => begin(false),
    onArrayEnd: () => end(false),
    onObjectProperty(name, offset) {
      member = name
      const names = open.at(-1)?.names
      if (!names || found) return
      if (names.has(name)) {
        const {line, column} = at(body, offset, '')
        found = {path: [...path], name, line, column}
      }
      names.add(name)
    },
    onLiteralValue() {
      element()
      member = undefined
    },
  })
  return found
}
