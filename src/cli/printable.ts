/**
 * Text for a terminal: control characters shown as escapes, never sent raw. A client's name or
 * description read from an old clients.json / clients.db may hold anything (add-client and
 * import-clients refuse control characters, upstream did not), and printing ESC sequences
 * raw lets a stored name retitle or clear the operator's terminal, or hide the text around it.
 */

/**
 * C0 controls except tab and newline, DEL and C1 controls: what a terminal acts on. And the
 * bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): a terminal
 * that lays out bidirectional text reorders everything after one, so a name could show another
 * name, or move the columns after it ("Trojan Source"). Other characters, the bidirectional marks
 * of right-to-left names (U+200E, U+200F) included, are text that add-client accepts and that is
 * shown exactly as stored (R16); --json output is never escaped.
 */
const UNPRINTABLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g

/** `text` with each control character written as `\xNN` (`\uNNNN` for a bidirectional one). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => {
    const code = character.codePointAt(0)!
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`
  })
}

/**
 * A stored value shown inside a line (a name in a message, a table cell, a prompt): every
 * control character escaped, tab and line breaks too (`\t`, `\n`, `\r`), so an old record's name
 * can neither break the line nor forge one below it ("client 7 is now an admin").
 */
export function oneLine(text: string): string {
  return printable(text.replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r'))
}
