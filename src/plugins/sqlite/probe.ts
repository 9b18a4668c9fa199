/**
 * Looks into a SQLite file without TypeORM and without writing (for the agreement guard): the
 * file is left byte-identical and nothing is left beside it (see reader.ts).
 */
import {fileState} from '../../core/file-access.js'
import type {StoreProbe} from '../../core/store.js'
import {openReader} from './reader.js'

export function probeSqliteFile(file: string): StoreProbe | undefined {
  const state = fileState(file)
  // A file that cannot be looked at is "cannot tell", never "missing": opening it then reports why.
  if (state === 'unknown') return undefined
  if (state === 'absent') return {exists: false, location: file}
  try {
    const db = openReader(file, 1000)
    try {
      const row = db.prepare("SELECT COUNT(*) AS n FROM clients WHERE api_key != 'revoked'").get() as {n: number}
      const {last} = db.prepare('SELECT MAX(client_id) AS last FROM clients').get() as {last: number | null}
      return {exists: true, clients: row.n, lastId: last ?? 0, location: file}
    } finally {
      db.close()
    }
  } catch {
    return {exists: true, location: file}
  }
}
