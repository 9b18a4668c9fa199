import {printable} from './printable.js'

/**
 * An error as the CLI prints it on stderr: "Error: …" and, when there is one, "Hint: …", one line
 * each, control characters escaped. Every command's errors (src/base-command.ts) and the words
 * that are not a command (src/cli/command-not-found.ts) read the same.
 */
export function errorText(message: string, hint?: string): string {
  return `Error: ${printable(message)}${hint ? `\nHint: ${printable(hint)}` : ''}\n`
}
