import path from 'node:path'

import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {defaultBackupDir, defaultBackupName, writeBackupFile} from '../backup/files.js'
import {outputFileAt, refuseDatabaseFile} from '../cli/output-file.js'
import {buildPlainBackup, encryptBackup, readBackupHeader} from '../backup/format.js'
import {obtainPassphrase, PASSPHRASE_ENV} from '../backup/passphrase.js'
import {HivemindError} from '../core/errors.js'

/** What `backup-db --json` prints. */
export interface BackupResult {
  file: string
  backend: string
  location: string
  count: number
  encrypted: boolean
  createdAt: string
}

export default class BackupDb extends StoreCommand {
  static override summary = 'Write every client (tombstones included) of the current database to one backup file, optionally encrypted.'
  static override description = `Works with every backend, plugins included. The file starts with a header (format version, source backend, record count, checksum) followed by the canonical JSON of every record, one per line; docs/security.md describes the format. It is written atomically with mode 0600, by default into $XDG_DATA_HOME/hivemind-core/backups/.
--encrypt derives a key from a passphrase with scrypt (N=2^17, r=8, p=1) and encrypts with AES-256-GCM. The passphrase is asked on the terminal (hidden) or read from ${PASSPHRASE_ENV}; it is never a flag.
The backup holds every access key and password: keep it as safe as the database. Restore it with restore-db.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --encrypt --out /mnt/offsite/hive.backup.enc',
    `${PASSPHRASE_ENV}=... <%= config.bin %> <%= command.id %> --encrypt --json`,
  ]

  static override flags = {
    out: Flags.string({char: 'o', description: 'backup file to write, or a directory to write it in (default: $XDG_DATA_HOME/hivemind-core/backups/clients-<backend>-<time>.backup[.enc])'}),
    encrypt: Flags.boolean({description: `encrypt with a passphrase (asked, or env ${PASSPHRASE_ENV})`, default: false}),
    force: Flags.boolean({description: 'replace the --out file when it exists', default: false}),
  }

  async run(): Promise<BackupResult> {
    const {flags} = await this.parse(BackupDb)
    // Asked first: a typo in the confirmation must not cost a full read of the database.
    const passphrase = flags.encrypt ? await obtainPassphrase({confirm: true, interactive: this.interactive()}) : undefined
    const {plain, backend, location} = await this.withDatabase(flags, 'read', async (db, opened) => {
      if (opened.missing) {
        throw new HivemindError('INVALID_INPUT', `there is no database to back up at ${opened.store.location}`, {suggestion: 'check the settings with: hivemind-core print-config'})
      }
      const records = await db.all(true)
      const source = {backend: this.settings.registered.descriptor.name, location: opened.store.location}
      return {plain: buildPlainBackup(records, source), ...source}
      // A backup is what one takes before changing anything: it leaves the database exactly as it
      // was (an upstream clients.db is not upgraded by it; other read-only commands do upgrade it).
    }, {leaveUntouched: true})
    const content = passphrase === undefined ? plain : await encryptBackup(plain, passphrase)
    const name = defaultBackupName(backend, flags.encrypt)
    const file = flags.out === undefined ? path.join(defaultBackupDir(this.settings.paths), name) : outputFileAt(flags.out, name)
    refuseDatabaseFile(file, location, '--out')
    await writeBackupFile(file, content, flags.force, flags.out === undefined)
    const header = readBackupHeader(content, file)
    await this.audit({event: 'backup', details: {file, count: header.count, encrypted: header.encrypted}})
    this.log(`Backed up ${header.count} record(s) of ${backend} ${location} to ${file}${header.encrypted ? ' (encrypted)' : ''}.`)
    if (!header.encrypted) this.notice('Note: the backup holds every access key and password in clear; keep it private, or use --encrypt.')
    return {file, backend, location, count: header.count, encrypted: header.encrypted, createdAt: header.createdAt}
  }
}
