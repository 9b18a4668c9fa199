/**
 * Text as one single-quoted shell word, for the commands that hints print (redis-cli, chmod,
 * sqlite3): pasted, it stays one argument whatever it holds (spaces, $, quotes).
 */
export function shellQuoted(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`
}
