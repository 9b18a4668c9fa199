/**
 * A verified backup seen as a read-only ClientStore, so restore-db can reuse migrate-db's plan /
 * copy / verify machinery with the backup as the source. (MemoryStore would do, but checks key
 * uniqueness by scanning, which is quadratic for a large backup.)
 */
import {type ClientRecord, cloneClient, isRevoked} from '../core/client.js'
import {HivemindError} from '../core/errors.js'
import type {ClientStore, ListOptions} from '../core/store.js'

export class BackupStore implements ClientStore {
  readonly name = 'backup'
  private readonly byId: Map<number, ClientRecord>
  private readonly byKey = new Map<string, ClientRecord>()
  private readonly sorted: ClientRecord[]

  constructor(readonly location: string, records: readonly ClientRecord[]) {
    this.sorted = [...records].sort((a, b) => a.client_id - b.client_id)
    this.byId = new Map(this.sorted.map((record) => [record.client_id, record]))
    for (const record of this.sorted) if (!isRevoked(record)) this.byKey.set(record.api_key, record)
  }

  async open(): Promise<void> {}
  async close(): Promise<void> {}

  async get(id: number): Promise<ClientRecord | undefined> {
    const record = this.byId.get(id)
    return record ? cloneClient(record) : undefined
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    const record = this.byKey.get(apiKey)
    return record ? cloneClient(record) : undefined
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    for (const record of this.sorted) if (options.includeRevoked || !isRevoked(record)) yield cloneClient(record)
  }

  async count(options: ListOptions = {}): Promise<number> {
    return options.includeRevoked ? this.sorted.length : this.byKey.size
  }

  async revision(): Promise<string> {
    return '0'
  }

  add(): Promise<ClientRecord> {
    return this.readOnly()
  }

  put(): Promise<ClientRecord> {
    return this.readOnly()
  }

  update(): Promise<ClientRecord> {
    return this.readOnly()
  }

  revoke(): Promise<ClientRecord> {
    return this.readOnly()
  }

  private async readOnly(): Promise<never> {
    throw new HivemindError('STORE_READ_ONLY', 'a backup is read-only')
  }
}
