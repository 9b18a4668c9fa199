/**
 * The audit trail as a Redis stream on the hive's own server, so every host of a multi-instance
 * hive appends to one trail: key `<keyPrefix>{hive}audit`, one entry per line with the single
 * field `line` (the same JSON as the file), trimmed approximately to `maxLen` entries.
 * Read it back with `hivemind-core audit --source redis` or `redis-cli XRANGE <key> - +`.
 */
import type {AuditEntry} from '../../audit/entry.js'
import type {AuditSink} from '../../audit/trail.js'
import {RedisConnection} from './connection.js'
import {HASH_TAG} from './keys.js'
import {describeTarget, type RedisOptions, resolveTarget} from './options.js'

/** The stream key of a hive. */
export function auditStreamKey(keyPrefix: string): string {
  return `${keyPrefix}${HASH_TAG}audit`
}

export class RedisStreamAuditSink implements AuditSink {
  readonly description: string
  private connection?: RedisConnection
  private readonly key: string

  constructor(private readonly options: RedisOptions, private readonly maxLen: number) {
    const target = resolveTarget(options)
    this.key = auditStreamKey(target.keyPrefix)
    this.description = `redis stream ${this.key} at ${describeTarget(target)}`
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    const connection = await this.connect()
    try {
      const pipeline = connection.client.pipeline()
      for (const entry of entries) pipeline.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', 'line', JSON.stringify(entry))
      const results = await pipeline.exec()
      const failed = results?.find(([error]) => error)
      if (failed) throw failed[0]
    } catch (error) {
      throw connection.translate(error, 'write')
    }
  }

  /** Every entry of the stream, oldest first (for `audit --source redis`). */
  async readAll(): Promise<string[]> {
    const connection = await this.connect()
    try {
      const lines: string[] = []
      let start = '-'
      for (;;) {
        const page = (await connection.client.xrange(this.key, start, '+', 'COUNT', 1000)) as Array<[string, string[]]>
        for (const [, fields] of page) {
          const at = fields.indexOf('line')
          if (at !== -1 && fields[at + 1] !== undefined) lines.push(fields[at + 1]!)
        }
        if (page.length < 1000) return lines
        start = `(${page.at(-1)![0]}`
      }
    } catch (error) {
      throw connection.translate(error, 'read')
    }
  }

  async close(): Promise<void> {
    await this.connection?.close()
    this.connection = undefined
  }

  private async connect(): Promise<RedisConnection> {
    if (this.connection) return this.connection
    const target = resolveTarget(this.options)
    // A listener (option reconnect) keeps its stream across Redis restarts; CLI commands fail fast.
    const connection = new RedisConnection(target, {reconnect: target.reconnect})
    await connection.connect()
    this.connection = connection
    return connection
  }
}
