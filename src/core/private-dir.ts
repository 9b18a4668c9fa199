/**
 * Creating the directories our files live in (docs/security.md: files we create are 0600 in 0700
 * directories), safely when several processes do it at once: twenty `add-client` processes
 * started together all find the directory missing, and all but one then see EEXIST. Checking
 * first and creating after (existsSync, then mkdirSync) fails those; here "it exists" and "another
 * process just made it" are the same answer, EEXIST, and neither is an error.
 */
import {mkdirSync} from 'node:fs'
import path from 'node:path'

/** Which missing ancestors of a private directory are made private too. */
export type MissingParents =
  /** The usual mode (the umask's): they are the user's, e.g. ~/.local/share or a project directory. */
  | 'usual'
  /** 0700, as the XDG base directory spec asks of the directories it names. */
  | 'private'

/**
 * Makes `dir` with mode 0700 when it is missing, and its missing ancestors as `parents` says
 * (default 'usual'). An existing directory keeps its mode. Something else than a directory in
 * its place is not detected here: opening a file in it fails, with its own message.
 */
export function ensurePrivateDir(dir: string, parents: MissingParents = 'usual'): void {
  if (createIfMissing(dir)) return
  // ENOENT: a parent is missing.
  if (parents === 'private') ensurePrivateDir(path.dirname(dir), 'private')
  else mkdirSync(path.dirname(dir), {recursive: true})
  // Missing again only if a parent was removed meanwhile: then fail with the system's own error.
  if (!createIfMissing(dir)) mkdirSync(dir, {mode: 0o700})
}

/** True when `dir` exists now (made here or by anyone else); false when a parent is missing. */
function createIfMissing(dir: string): boolean {
  try {
    mkdirSync(dir, {mode: 0o700})
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return true
    if (code === 'ENOENT') return false
    throw error
  }
}
