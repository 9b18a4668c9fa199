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

/**
 * The text of a permission list, made by `render`, with the previous list's text reused when the
 * items are the same: most clients hold the same few lists, and a 100k-client copy wrote the
 * same 8-item allowed_types 100k times (a twentieth of a copy into SQLite).
 */
export class LastListText {
  /** The list rendered last (a copy: the caller's array may change afterwards), and its text. */
  private last: {items: readonly unknown[]; text: string} | undefined

  constructor(private readonly render: (items: readonly unknown[]) => string) {}

  text(items: readonly unknown[]): string {
    const last = this.last
    if (last && items.length === last.items.length) {
      let index = 0
      // A hole reads as undefined in both (the copy made it one).
      while (index < items.length && items[index] === last.items[index]) index++
      if (index === items.length) return last.text
    }
    const text = this.render(items)
    this.last = {items: [...items], text}
    return text
  }
}

const lastJson = new LastListText((items) => JSON.stringify(items))

/** `JSON.stringify(items)` for a permission list (see {@link LastListText}). */
export function listJson(items: readonly unknown[]): string {
  return items.length === 0 ? '[]' : lastJson.text(items)
}
