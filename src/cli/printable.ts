/**
 * Text for a terminal: control characters shown as escapes, never sent raw. A client's name or
 * description read from an old clients.json / clients.db may hold anything (add-client and
 * import-clients refuse control characters, upstream did not), and printing ESC sequences
 * raw lets a stored name retitle or clear the operator's terminal, or hide the text around it.
 */

/** C0 controls except tab and newline, DEL, C1 controls, and the bidirectional overrides. */
const UNPRINTABLE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g

/** `text` with each unprintable character written as `\xNN` or `\uNNNN`. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (character) => {
    const code = character.codePointAt(0)!
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}
