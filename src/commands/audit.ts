import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {type AuditEntry, CLI_EVENTS, type FieldChange, LISTENER_EVENTS} from '../audit/entry.js'
import {resolveAuditSettings} from '../audit/settings.js'
import {type AuditReadResult, parseAuditLines, parseSince, readAuditFile} from '../audit/trail.js'
import {oneLine} from '../cli/printable.js'
import {UsageError} from '../core/errors.js'

export default class Audit extends StoreCommand {
  static override summary = 'Show the audit trail: who changed which client, when, from where.'
  static override description = `Reads the audit file ($XDG_STATE_HOME/hivemind-core/audit.log unless audit.file / HIVEMIND_AUDIT_FILE says otherwise), or with --source redis the hive's Redis stream (audit.redisStream), and prints the entries that match every filter given, oldest first. Entries never hold a secret. The trail is shared by every database this user changes: when the entries shown are about more than one, each line names its database ("client 1 (kitchen) in sqlite /…/clients.db"; --json always has it as "store").
Events: ${[...CLI_EVENTS, ...LISTENER_EVENTS].join(', ')}. docs/security.md describes the line format.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --since 24h',
    '<%= config.bin %> <%= command.id %> --client 3 --event revoke,admin',
    '<%= config.bin %> <%= command.id %> --since 2025-01-01 --json',
    '<%= config.bin %> <%= command.id %> --source redis --event auth_failure',
  ]

  static override flags = {
    since: Flags.string({description: 'only entries at or after this time: an ISO date/time, or an age such as 30m, 24h, 7d'}),
    client: Flags.string({description: 'only entries about this client (id or exact name)'}),
    event: Flags.string({description: 'only these events (comma-separated or repeated)', multiple: true}),
    source: Flags.string({description: 'read the local file or the Redis stream', options: ['file', 'redis'], default: 'file'}),
    file: Flags.string({description: 'audit file to read (default: the configured one)'}),
  }

  async run(): Promise<AuditEntry[]> {
    const {flags} = await this.parse(Audit)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    if (flags.since !== undefined && !since) throw new UsageError(`--since ${flags.since.slice(0, 40)} is neither an ISO date nor an age like 24h`)
    const events = flags.event?.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean)
    const known: readonly string[] = [...CLI_EVENTS, ...LISTENER_EVENTS]
    const unknown = events?.filter((event) => !known.includes(event)) ?? []
    if (unknown.length > 0) throw new UsageError(`unknown event ${unknown.join(', ')}`, {suggestion: `events: ${known.join(', ')}`})

    const filter = {since, client: flags.client, events}
    const settings = await this.resolve(flags)
    const audit = resolveAuditSettings(settings)
    let read: AuditReadResult
    let where: string
    if (flags.source === 'redis') {
      if (settings.registered.descriptor.name !== 'redis') throw new UsageError(`--source redis needs the redis backend (the selected one is ${settings.registered.descriptor.name})`)
      const {optionValues} = await import('../config/settings.js')
      const {RedisStreamAuditSink} = await import('../plugins/redis/audit-stream.js')
      const sink = new RedisStreamAuditSink(optionValues(settings.backendOptions) as never, audit.streamMaxLen)
      try {
        read = parseAuditLines((await sink.readAll()).join('\n'), filter)
      } finally {
        await sink.close()
      }
      where = sink.description
    } else {
      const file = flags.file ?? audit.file
      read = await readAuditFile(file, filter)
      where = file
    }
    if (read.invalid > 0) this.notice(`Warning: ${read.invalid} line(s) of ${where} are not audit entries and were skipped`)
    const {entries} = read
    if (!flags.quiet) this.notice(`Audit trail: ${where} (${entries.length} of ${read.total} entries)`)
    // One trail serves every database of this user: client 1 of one database is not client 1 of
    // another, so when the entries shown are about more than one, each line names its own (QA).
    const showStore = new Set(entries.map((entry) => entry.store).filter((store) => store !== undefined)).size > 1
    for (const entry of entries) this.log(formatEntry(entry, {showStore}))
    return entries
  }
}

/**
 * One human-readable line per entry, whatever its values hold: a newline in a metadata key, a
 * list item or a detail a satellite controls (an imported client's, a refused message type)
 * printed as it is would show a forged entry below the real one (QA). So the whole line goes
 * through oneLine, which escapes line breaks and other control characters.
 */
export function formatEntry(entry: AuditEntry, {showStore = false}: {showStore?: boolean} = {}): string {
  const who = `${entry.user}${entry.sudo_user ? ` (sudo by ${entry.sudo_user})` : ''}@${entry.host}`
  const client = (entry.client_id === undefined ? '' : ` client ${entry.client_id}${entry.name ? ` (${entry.name})` : ''}`) + (showStore && entry.store ? ` in ${entry.store}` : '')
  const changes = entry.changes ? ` ${Object.entries(entry.changes).map(([field, change]) => `${field}: ${describeChange(change)}`).join('; ')}` : ''
  const details = entry.details ? ` ${Object.entries(entry.details).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ')}` : ''
  return oneLine(`${entry.time}  ${entry.event.padEnd(10)} ${who} ${entry.command}${client}${changes}${details}`)
}

function describeChange(change: FieldChange): string {
  if ('secret' in change) return change.secret
  if ('keys' in change) return `keys ${change.keys.join(', ')}`
  if ('added' in change) return [change.added.length > 0 ? `+${change.added.join(', +')}` : '', change.removed.length > 0 ? `-${change.removed.join(', -')}` : ''].filter(Boolean).join(' ')
  return 'from' in change ? `${JSON.stringify(change.from)} → ${JSON.stringify(change.to)}` : JSON.stringify(change.to)
}
