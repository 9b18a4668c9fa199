/**
 * The in-memory reference store: the contract in its simplest form. It proves the conformance
 * suite and serves tests; it is never used as a fallback for a real backend.
 */
import {
  applyPatch,
  buildClient,
  type ClientPatch,
  type ClientRecord,
  cloneClient,
  isRevoked,
  type NewClient,
  tombstoneOf,
} from './client.js'
import {ClientNotFoundError, DuplicateApiKeyError, HivemindError} from './errors.js'
import type {ClientStore, ListOptions} from './store.js'
import {assertReservableId, assertStorableRecord} from './validate.js'

/** A ClientStore held in a Map. Name "memory". */
export class MemoryStore implements ClientStore {
  readonly name = 'memory'
  readonly location: string
  private readonly records = new Map<number, ClientRecord>()
  private nextId = 1
  private writes = 0
  private opened = false

  constructor(location = 'memory') {
    this.location = location
  }

  async open(): Promise<void> {
    this.opened = true
  }

  async close(): Promise<void> {
    this.opened = false
  }

  async add(client: NewClient): Promise<ClientRecord> {
    this.assertOpen()
    const id = this.nextId
    const record = buildClient(id, client)
    assertStorableRecord(record)
    this.assertKeyFree(record)
    this.records.set(id, record)
    this.nextId = id + 1
    this.writes++
    return cloneClient(record)
  }

  async put(client: ClientRecord): Promise<ClientRecord> {
    this.assertOpen()
    const record = cloneClient(client)
    assertStorableRecord(record)
    this.assertKeyFree(record)
    this.records.set(record.client_id, record)
    this.nextId = Math.max(this.nextId, record.client_id + 1)
    this.writes++
    return cloneClient(record)
  }

  async putMany(clients: readonly ClientRecord[]): Promise<void> {
    // Validate everything first so a failure leaves the store unchanged (all or nothing).
    const staged = new Map(this.records)
    for (const client of clients) {
      const record = cloneClient(client)
      assertStorableRecord(record)
      for (const other of staged.values()) {
        if (!isRevoked(record) && other.client_id !== record.client_id && other.api_key === record.api_key) {
          throw new DuplicateApiKeyError(other.client_id)
        }
      }
      staged.set(record.client_id, record)
    }
    for (const client of clients) await this.put(client)
  }

  async clear(): Promise<void> {
    this.assertOpen()
    this.records.clear()
    this.writes++
  }

  async get(id: number): Promise<ClientRecord | undefined> {
    this.assertOpen()
    const record = this.records.get(id)
    return record ? cloneClient(record) : undefined
  }

  async getByApiKey(apiKey: string): Promise<ClientRecord | undefined> {
    this.assertOpen()
    if (isRevoked({api_key: apiKey})) return undefined
    for (const record of this.records.values()) {
      if (record.api_key === apiKey) return cloneClient(record)
    }
    return undefined
  }

  async update(id: number, patch: ClientPatch): Promise<ClientRecord> {
    return this.modify(id, () => patch)
  }

  async modify(id: number, change: (current: ClientRecord) => ClientPatch | undefined): Promise<ClientRecord> {
    this.assertOpen()
    const current = this.records.get(id)
    if (!current) throw new ClientNotFoundError(`id ${id}`)
    const patch = change(cloneClient(current))
    if (patch === undefined) return cloneClient(current)
    const next = applyPatch(current, patch)
    assertStorableRecord(next)
    this.assertKeyFree(next)
    this.records.set(id, next)
    this.writes++
    return cloneClient(next)
  }

  async lastId(): Promise<number> {
    this.assertOpen()
    return this.nextId - 1
  }

  async reserveIds(id: number): Promise<void> {
    this.assertOpen()
    assertReservableId(id)
    this.nextId = Math.max(this.nextId, id + 1)
  }

  async revoke(id: number): Promise<ClientRecord> {
    this.assertOpen()
    const current = this.records.get(id)
    if (!current) throw new ClientNotFoundError(`id ${id}`)
    const tombstone = tombstoneOf(current)
    this.records.set(id, tombstone)
    this.writes++
    return cloneClient(tombstone)
  }

  async *list(options: ListOptions = {}): AsyncIterable<ClientRecord> {
    this.assertOpen()
    const ids = [...this.records.keys()].sort((a, b) => a - b)
    for (const id of ids) {
      const record = this.records.get(id)
      if (record && (options.includeRevoked || !isRevoked(record))) yield cloneClient(record)
    }
  }

  async count(options: ListOptions = {}): Promise<number> {
    this.assertOpen()
    let total = 0
    for (const record of this.records.values()) if (options.includeRevoked || !isRevoked(record)) total++
    return total
  }

  async revision(): Promise<string> {
    return String(this.writes)
  }

  private assertKeyFree(record: ClientRecord): void {
    if (isRevoked(record)) return
    for (const other of this.records.values()) {
      if (other.client_id !== record.client_id && other.api_key === record.api_key) throw new DuplicateApiKeyError(other.client_id)
    }
  }

  private assertOpen(): void {
    if (!this.opened) throw new HivemindError('STORE_CLOSED', `the ${this.name} store is not open`)
  }
}
