/**
 * Parsing of stored permission lists (JSON arrays of strings in a SQLite column or a Redis hash
 * field). Most clients of a hive hold the same few lists, and listing 100k clients parsed the same
 * texts 400k times: each distinct text is parsed once here. Parsed arrays are shared, so they are
 * never handed out as they are: parseClientRecord copies every list into the record it returns.
 */

/** Parsed arrays by their text (bounded: cleared when full, so odd hives cannot grow it). */
const parsed = new Map<string, unknown>()
const LIMIT = 1000
/** The list text found last, and its parse. */
let last: {text: string; value: unknown} = {text: '[]', value: []}
/** The parse of "[]", shared like every cached parse. */
const EMPTY_LIST: unknown = []

/**
 * `JSON.parse(text)`, remembered when the result is an array. Throws what JSON.parse throws.
 * The result must only be read (see above).
 */
export function parseListText(text: string): unknown {
  // Most stored lists are empty: no hashing of the text for those.
  if (text === '[]') return EMPTY_LIST
  // Then the text parsed last: comparing with it skips hashing a fresh string for the map.
  if (text === last.text) return last.value
  const known = parsed.get(text)
  if (known !== undefined) {
    last = {text, value: known}
    return known
  }
  const value: unknown = JSON.parse(text)
  if (Array.isArray(value)) {
    if (parsed.size >= LIMIT) parsed.clear()
    parsed.set(text, value)
    last = {text, value}
  }
  return value
}
