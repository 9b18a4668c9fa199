/**
 * The ClientStore conformance suite, published as `hivemind-core/testing`.
 *
 * Every backend — built in or from a plugin — proves the store contract by running this one suite.
 * A backend's test file is a factory plus one call; backend differences are {@link ConformanceOptions},
 * never copied tests. The suite also runs against the in-memory reference store, which proves the
 * suite itself.
 *
 * ```ts
 * import {runStoreConformance} from 'hivemind-core/testing'
 *
 * runStoreConformance('my-backend', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'my-backend-'))
 *   return {store: new MyStore(join(dir, 'clients')), cleanup: () => rm(dir, {recursive: true, force: true})}
 * }, {reopen: async (old) => new MyStore(old.location)})
 * ```
 *
 * It registers its tests with mocha's global `describe` / `it` / `beforeEach` / `afterEach` (the
 * mocha of the package that runs it) and asserts with `node:assert/strict`, so it adds no test
 * dependency to a plugin.
 */
import assert from 'node:assert/strict'

import type {ClientRecord} from '../core/client.js'
import type {ClientStore} from '../core/store.js'

/** What a {@link StoreFactory} returns: a store under test and how to dispose of it. */
export interface StoreUnderTest {
  /**
   * A store over a FRESH, EMPTY location (a new temp file, a new Redis database or key prefix…),
   * NOT yet opened: the suite calls `open()` once before each test and `close()` after it.
   */
  store: ClientStore
  /**
   * Called after each test, once every store the test used is closed: remove temp files, flush
   * the test database. Optional.
   */
  cleanup?: () => Promise<void>
}

/**
 * Builds one store under test. Called once per test (in `beforeEach`); every call must give a
 * fresh, empty, un-opened store that shares no data with earlier calls.
 */
export type StoreFactory = () => Promise<StoreUnderTest>

/** How a backend differs, as far as the suite is concerned. Every member is optional. */
export interface ConformanceOptions {
  /**
   * Number of clients in the large-hive tests (listing order, counting, early exit from a stream).
   * Default 1000.
   */
  largeListSize?: number
  /**
   * Mocha timeout, in ms, of the tests that write {@link largeListSize} clients. A slow backend
   * may raise it; it is a limit, never an assertion. Default 120000.
   */
  largeListTimeoutMs?: number
  /**
   * For persistent backends: given a store the suite has already CLOSED, returns a store over the
   * same data, not yet opened (a new instance on the same file / database, or the same instance).
   * The suite opens it and checks that everything survived, then closes it after the test.
   * Absent (default): the persistence tests are skipped, as for a purely in-memory store.
   */
  reopen?: (closed: ClientStore) => Promise<ClientStore>
  /**
   * For backends several processes share: given the OPEN store of a test, returns a second store
   * over the same data, not yet opened, as another process would open it (a new instance on the
   * same file / database; never the same instance). The suite checks that the test's store's
   * `revision()` moves when the other one writes, which `listen` relies on to see add-client and
   * delete-client of other processes. Absent (default): that test is skipped.
   */
  another?: (open: ClientStore) => Promise<ClientStore>
}

/** The eight bus message types upstream hivemind-core lets a new client send. */
const UPSTREAM_DEFAULT_ALLOWED_TYPES = [
  'recognizer_loop:utterance',
  'recognizer_loop:record_begin',
  'recognizer_loop:record_end',
  'recognizer_loop:audio_output_start',
  'recognizer_loop:audio_output_end',
  'recognizer_loop:b64_transcribe',
  'speak:b64_audio',
  'ovos.common_play.SEI.get.response',
]

/** A distinct, valid access key per number. */
function key(n: number | string): string {
  return `conformance-key-${n}`
}

/** Freezes a value and everything it holds, so an in-place edit throws (strict mode). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/** A record with EVERY field set away from its default, to catch fields a backend drops. */
function fullRecord(id: number, n: number | string = id): ClientRecord {
  return {
    client_id: id,
    api_key: key(n),
    name: `node ${n}`,
    description: `description of ${n}`,
    is_admin: true,
    last_seen: 1_712_345_678.123_456,
    intent_blacklist: ['skill-weather.openvoiceos:WeatherIntent'],
    skill_blacklist: ['skill-volume.openvoiceos', 'skill-date-time.openvoiceos'],
    message_blacklist: ['speak'],
    allowed_types: ['recognizer_loop:utterance', 'mycroft.skills.loaded'],
    crypto_key: 'abcdefghijklmnop',
    password: `password-${n}`,
    can_broadcast: false,
    can_escalate: false,
    can_propagate: false,
    metadata: {site: 'kitchen', n: String(n), nested: {level: 2, list: [1, 'two', null, {three: true}]}},
  }
}

/** The record a bare `add({api_key})` must produce: upstream defaults, nothing else. */
function defaultRecord(id: number, apiKey: string): ClientRecord {
  return {
    client_id: id,
    api_key: apiKey,
    name: '',
    description: '',
    is_admin: false,
    last_seen: -1,
    intent_blacklist: [],
    skill_blacklist: [],
    message_blacklist: [],
    allowed_types: [...UPSTREAM_DEFAULT_ALLOWED_TYPES],
    crypto_key: null,
    password: null,
    can_broadcast: true,
    can_escalate: true,
    can_propagate: true,
    metadata: {},
  }
}

async function collect(iterable: AsyncIterable<ClientRecord>): Promise<ClientRecord[]> {
  const out: ClientRecord[] = []
  for await (const record of iterable) out.push(record)
  return out
}

function ids(records: readonly ClientRecord[]): number[] {
  return records.map((record) => record.client_id)
}

/**
 * Asserts that `promise` rejects with an Error carrying `code` (a HivemindErrorCode). Codes, not
 * classes, are compared: a plugin may load its own copy of hivemind-core.
 */
async function rejectsWithCode(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof Error, `${what}: expected an Error, got ${String(error)}`)
    assert.equal((error as {code?: unknown}).code, code, `${what}: expected code ${code}, got ${String((error as {code?: unknown}).code)} (${error.message})`)
    return true
  }, `${what}: expected a rejection with code ${code}`)
}

/**
 * Registers the ClientStore conformance tests for one backend with mocha.
 *
 * @param label   names the backend in the test titles, e.g. "sqlite".
 * @param factory builds a fresh, empty, un-opened store for each test (see {@link StoreFactory}).
 * @param options backend differences (see {@link ConformanceOptions}).
 */
export function runStoreConformance(label: string, factory: StoreFactory, options: ConformanceOptions = {}): void {
  const largeListSize = options.largeListSize ?? 1000
  const largeListTimeoutMs = options.largeListTimeoutMs ?? 120_000
  const {reopen} = options

  describe(`ClientStore conformance: ${label}`, () => {
    /** The store of the current test (replaced by `reopenStore`). */
    let store: ClientStore
    /** Every store the current test opened, closed after it (close is idempotent). */
    let opened: ClientStore[] = []
    let cleanup: (() => Promise<void>) | undefined

    beforeEach(async () => {
      const made = await factory()
      store = made.store
      cleanup = made.cleanup
      opened = [store]
      await store.open()
    })

    afterEach(async () => {
      try {
        for (const each of opened) await each.close()
      } finally {
        opened = []
        if (cleanup) await cleanup()
      }
    })

    /** Closes the current store and opens it again through `options.reopen`. */
    async function reopenStore(): Promise<ClientStore> {
      assert.ok(reopen, 'reopenStore called without options.reopen')
      await store.close()
      store = await reopen(store)
      opened.push(store)
      await store.open()
      return store
    }

    /** Adds `n` clients with keys key(1..n) and returns them. */
    async function addMany(n: number, prefix = ''): Promise<ClientRecord[]> {
      const added: ClientRecord[] = []
      // Sequential on purpose: ids must come out in call order.
      for (let i = 1; i <= n; i++) added.push(await store.add({api_key: key(`${prefix}${i}`), name: `client ${prefix}${i}`}))
      return added
    }

    describe('add', () => {
      it('assigns ids 1, 2, 3 in order on an empty store', async () => {
        const added = await addMany(3)
        assert.deepEqual(ids(added), [1, 2, 3])
        for (const record of added) assert.equal((await store.get(record.client_id))?.api_key, record.api_key)
      })

      it('fills exactly the upstream defaults for omitted fields', async () => {
        const added = await store.add({api_key: key('defaults')})
        const expected = defaultRecord(1, key('defaults'))
        assert.deepEqual(added, expected)
        assert.deepEqual(await store.get(1), expected)
      })

      it('stores every field it is given and returns the stored record', async () => {
        const {client_id: _ignored, ...fields} = fullRecord(1, 'full')
        const added = await store.add(fields)
        assert.deepEqual(added, fullRecord(1, 'full'))
        assert.deepEqual(await store.get(1), added)
        assert.deepEqual(await store.getByApiKey(key('full')), added)
      })

      it('rejects a second live client with the same access key (DUPLICATE_API_KEY) and stores nothing', async () => {
        await store.add({api_key: key('same'), name: 'first'})
        await rejectsWithCode(store.add({api_key: key('same'), name: 'second'}), 'DUPLICATE_API_KEY', 'add with a live key')
        assert.equal(await store.count({includeRevoked: true}), 1)
        assert.equal((await store.getByApiKey(key('same')))?.name, 'first')
      })

      it('accepts the key of a revoked client (the tombstone no longer holds it)', async () => {
        await store.add({api_key: key('reused'), name: 'old'})
        await store.revoke(1)
        const again = await store.add({api_key: key('reused'), name: 'new'})
        assert.equal(again.client_id, 2)
        assert.equal((await store.getByApiKey(key('reused')))?.client_id, 2)
      })

      it('gives distinct ids to concurrent adds from one process', async () => {
        const added = await Promise.all(Array.from({length: 20}, (_, i) => store.add({api_key: key(`parallel-${i}`)})))
        assert.deepEqual(ids(added).sort((a, b) => a - b), Array.from({length: 20}, (_, i) => i + 1))
        assert.equal(await store.count(), 20)
        for (const record of added) assert.equal((await store.get(record.client_id))?.api_key, record.api_key)
      })

      it('rejects a malformed record (INVALID_INPUT) and stores nothing', async () => {
        await rejectsWithCode(store.add({api_key: ''}), 'INVALID_INPUT', 'add with an empty key')
        await rejectsWithCode(
          store.add({api_key: key('bad'), allowed_types: [42 as unknown as string]}),
          'INVALID_INPUT',
          'add with a non-string list item',
        )
        assert.equal(await store.count({includeRevoked: true}), 0)
      })
    })

    describe('ids', () => {
      it('are never reused after a revocation', async () => {
        await addMany(3)
        const tombstone = await store.revoke(3)
        assert.equal(tombstone.client_id, 3)
        const next = await store.add({api_key: key('after-revoke')})
        assert.equal(next.client_id, 4)
        assert.equal((await store.get(3))?.api_key, 'revoked')
      })

      it('continue past an id given to put', async () => {
        await store.add({api_key: key(1)})
        await store.put(fullRecord(50))
        const next = await store.add({api_key: key('after-put')})
        assert.ok(next.client_id >= 51, `add after put(50) gave id ${next.client_id}`)
        assert.equal((await store.get(50))?.api_key, key(50))
      })

      it('never move backwards when put uses a lower id', async () => {
        await store.put(fullRecord(50))
        await store.put(fullRecord(10))
        const next = await store.add({api_key: key('after-low-put')})
        assert.ok(next.client_id >= 51, `add after put(50), put(10) gave id ${next.client_id}`)
      })

      it('fill no gaps: an add never takes an id below the highest assigned one', async () => {
        await addMany(2)
        await store.put(fullRecord(7))
        await store.revoke(7)
        const next = await store.add({api_key: key('gap')})
        assert.ok(next.client_id >= 8, `add gave id ${next.client_id} although 7 was used`)
        assert.equal(await store.get(3), undefined, 'id 3 was never used and must stay absent')
      })
    })

    describe('put', () => {
      it('inserts a record with its own id and returns it', async () => {
        const record = fullRecord(7)
        const stored = await store.put(record)
        assert.deepEqual(stored, fullRecord(7))
        assert.deepEqual(await store.get(7), fullRecord(7))
        assert.deepEqual(await store.getByApiKey(key(7)), fullRecord(7))
      })

      it('replaces an existing record entirely (no merge with the old fields)', async () => {
        await store.put(fullRecord(3))
        const replacement = defaultRecord(3, key('replacement'))
        replacement.name = 'replaced'
        assert.deepEqual(await store.put(replacement), replacement)
        assert.deepEqual(await store.get(3), replacement)
        assert.equal(await store.getByApiKey(key(3)), undefined, 'the old key must no longer find the record')
        assert.equal(await store.count({includeRevoked: true}), 1)
      })

      it('may keep the key of the record it replaces', async () => {
        await store.put(fullRecord(3))
        const renamed = {...fullRecord(3), name: 'renamed'}
        await store.put(renamed)
        assert.deepEqual(await store.get(3), renamed)
        assert.deepEqual(await store.getByApiKey(key(3)), renamed, 'the key must find the new version')
      })

      it('rejects a key held by another live client (DUPLICATE_API_KEY), leaving both unchanged', async () => {
        await store.put(fullRecord(1))
        await store.put(fullRecord(2))
        const clash = {...fullRecord(2), api_key: key(1)}
        await rejectsWithCode(store.put(clash), 'DUPLICATE_API_KEY', 'put replacing with a live key')
        await rejectsWithCode(store.put({...fullRecord(9), api_key: key(1)}), 'DUPLICATE_API_KEY', 'put inserting a live key')
        assert.deepEqual(await store.get(1), fullRecord(1))
        assert.deepEqual(await store.get(2), fullRecord(2))
        assert.equal(await store.get(9), undefined)
      })

      it('stores tombstones, several of which coexist', async () => {
        const first = {...fullRecord(4), api_key: 'revoked', password: null, crypto_key: null}
        const second = {...fullRecord(5), api_key: 'revoked', password: null, crypto_key: null}
        await store.put(first)
        await store.put(second)
        assert.deepEqual(await store.get(4), first)
        assert.deepEqual(await store.get(5), second)
        assert.equal(await store.count({includeRevoked: true}), 2)
        assert.equal(await store.count(), 0)
      })

      it('rejects an invalid id (INVALID_INPUT)', async () => {
        for (const id of [0, -1, 1.5]) {
          await rejectsWithCode(store.put({...fullRecord(1), client_id: id}), 'INVALID_INPUT', `put with id ${id}`)
        }
        assert.equal(await store.count({includeRevoked: true}), 0)
      })
    })

    describe('update', () => {
      it('changes only the given fields and returns the stored record', async () => {
        await store.put(fullRecord(1))
        const updated = await store.update(1, {name: 'new name', is_admin: false})
        const expected = {...fullRecord(1), name: 'new name', is_admin: false}
        assert.deepEqual(updated, expected)
        assert.deepEqual(await store.get(1), expected)
        assert.deepEqual(await store.getByApiKey(key(1)), expected, 'the key must find the updated record')
      })

      it('stores lists exactly as given (an empty allowed_types stays empty)', async () => {
        await store.add({api_key: key(1)})
        await store.update(1, {allowed_types: [], skill_blacklist: ['a', 'b'], metadata: {replaced: [true]}})
        const stored = await store.get(1)
        assert.deepEqual(stored?.allowed_types, [])
        assert.deepEqual(stored?.skill_blacklist, ['a', 'b'])
        assert.deepEqual(stored?.metadata, {replaced: [true]})
      })

      it('moves the access key: the old one no longer finds the client, the new one does', async () => {
        await store.add({api_key: key('old')})
        await store.update(1, {api_key: key('new')})
        assert.equal(await store.getByApiKey(key('old')), undefined)
        assert.equal((await store.getByApiKey(key('new')))?.client_id, 1)
      })

      it('accepts the key the client already has', async () => {
        await store.add({api_key: key(1)})
        assert.equal((await store.update(1, {api_key: key(1), name: 'same key'})).name, 'same key')
      })

      it("rejects another live client's key (DUPLICATE_API_KEY), leaving the record unchanged", async () => {
        await store.put(fullRecord(1))
        await store.put(fullRecord(2))
        await rejectsWithCode(store.update(2, {api_key: key(1), name: 'clash'}), 'DUPLICATE_API_KEY', 'update to a live key')
        assert.deepEqual(await store.get(2), fullRecord(2))
      })

      it('rejects an unknown id (CLIENT_NOT_FOUND) without creating it', async () => {
        await rejectsWithCode(store.update(42, {name: 'ghost'}), 'CLIENT_NOT_FOUND', 'update of an unknown id')
        assert.equal(await store.get(42), undefined)
        assert.equal(await store.count({includeRevoked: true}), 0)
      })
    })

    describe('revoke', () => {
      it('leaves a tombstone: same id and fields, key "revoked", secrets cleared', async () => {
        await store.put(fullRecord(1))
        const tombstone = await store.revoke(1)
        const expected = {...fullRecord(1), api_key: 'revoked', password: null, crypto_key: null}
        assert.deepEqual(tombstone, expected)
        assert.deepEqual(await store.get(1), expected)
      })

      it('makes the old key and the key "revoked" find nothing', async () => {
        await store.put(fullRecord(1))
        await store.revoke(1)
        assert.equal(await store.getByApiKey(key(1)), undefined)
        assert.equal(await store.getByApiKey('revoked'), undefined)
      })

      it('lets several tombstones coexist', async () => {
        await addMany(3)
        await store.revoke(1)
        await store.revoke(3)
        const all = await collect(store.list({includeRevoked: true}))
        assert.deepEqual(ids(all), [1, 2, 3])
        assert.deepEqual(all.map((record) => record.api_key), ['revoked', key(2), 'revoked'])
      })

      it('rejects an unknown id (CLIENT_NOT_FOUND)', async () => {
        await rejectsWithCode(store.revoke(42), 'CLIENT_NOT_FOUND', 'revoke of an unknown id')
        assert.equal(await store.get(42), undefined)
      })
    })

    describe('get and getByApiKey', () => {
      it('return undefined for unknown ids and keys', async () => {
        await store.add({api_key: key(1)})
        assert.equal(await store.get(2), undefined)
        assert.equal(await store.get(999_999), undefined)
        assert.equal(await store.getByApiKey(key('unknown')), undefined)
        assert.equal(await store.getByApiKey(''), undefined)
      })

      it('find the same record by id and by key', async () => {
        await store.put(fullRecord(1))
        await store.put(fullRecord(2))
        assert.deepEqual(await store.getByApiKey(key(2)), fullRecord(2))
        assert.deepEqual(await store.get(2), fullRecord(2))
      })

      it('match the access key exactly (no case folding, no prefix match)', async () => {
        await store.add({api_key: 'AbCdEf'})
        assert.equal(await store.getByApiKey('abcdef'), undefined)
        assert.equal(await store.getByApiKey('AbCd'), undefined)
        assert.equal(await store.getByApiKey('AbCdEf '), undefined)
        assert.equal((await store.getByApiKey('AbCdEf'))?.client_id, 1)
      })
    })

    describe('records are copies', () => {
      it('mutating a returned record never changes the store', async () => {
        const added = await store.put(fullRecord(1))
        const mutate = (record: ClientRecord | undefined) => {
          assert.ok(record)
          record.name = 'mutated'
          record.allowed_types.push('mutated')
          ;(record.metadata.nested as {level: number}).level = 99
        }
        mutate(added)
        mutate(await store.get(1))
        mutate(await store.getByApiKey(key(1)))
        mutate((await collect(store.list()))[0])
        mutate(await store.update(1, {description: 'description of 1'}))
        assert.deepEqual(await store.get(1), fullRecord(1))
      })

      it('mutating the input after a write never changes the store', async () => {
        const input = fullRecord(1)
        await store.put(input)
        input.skill_blacklist.push('mutated')
        ;(input.metadata.nested as {level: number}).level = 99

        const {client_id: _ignored, ...fields} = fullRecord(2)
        await store.add(fields)
        fields.allowed_types.push('mutated')
        ;(fields.metadata.nested as {list: unknown[]}).list.push('mutated')

        const patch = {intent_blacklist: ['x:y'], metadata: {deep: {value: 1}}}
        await store.update(1, patch)
        patch.intent_blacklist.push('mutated')
        patch.metadata.deep.value = 2

        assert.deepEqual(await store.get(1), {...fullRecord(1), intent_blacklist: ['x:y'], metadata: {deep: {value: 1}}})
        assert.deepEqual(await store.get(2), fullRecord(2))
      })

      it('a write never changes what it is handed (migrate-db hands its reference records as they are)', async () => {
        // Frozen all the way down: an in-place edit throws here (strict mode) instead of passing unseen.
        const handed = [fullRecord(1), fullRecord(2), fullRecord(3)].map((record) => deepFreeze(record))
        await store.put(handed[0]!)
        if (store.putMany) await store.putMany(handed.slice(1))
        else for (const record of handed.slice(1)) await store.put(record)
        const {client_id: _ignored, ...fields} = fullRecord(4)
        await store.add(deepFreeze(fields))
        await store.update(1, deepFreeze({allowed_types: ['recognizer_loop:utterance'], metadata: {deep: {value: 1}}}))
        assert.deepEqual(handed, [fullRecord(1), fullRecord(2), fullRecord(3)])

        // And keeps no reference to them: editing copies of the input later changes nothing stored.
        if (store.putMany) {
          const input = [fullRecord(5), fullRecord(6)]
          await store.putMany(input)
          for (const record of input) {
            record.name = 'mutated'
            record.allowed_types.push('mutated')
            ;(record.metadata.nested as {level: number}).level = 99
          }
          assert.deepEqual(await store.get(5), fullRecord(5))
          assert.deepEqual(await store.get(6), fullRecord(6))
        }
      })
    })

    describe('list and count', () => {
      it('are empty on an empty store', async () => {
        assert.deepEqual(await collect(store.list()), [])
        assert.deepEqual(await collect(store.list({includeRevoked: true})), [])
        assert.equal(await store.count(), 0)
        assert.equal(await store.count({includeRevoked: true}), 0)
      })

      it('list in id order whatever the insertion order', async () => {
        for (const id of [7, 3, 12, 5]) await store.put(fullRecord(id))
        await store.add({api_key: key('added')})
        assert.deepEqual(ids(await collect(store.list())), [3, 5, 7, 12, 13])
      })

      it('exclude tombstones unless includeRevoked, and agree with each other both ways', async () => {
        await addMany(5)
        await store.revoke(2)
        await store.revoke(4)
        const live = await collect(store.list())
        const all = await collect(store.list({includeRevoked: true}))
        assert.deepEqual(ids(live), [1, 3, 5])
        assert.deepEqual(ids(all), [1, 2, 3, 4, 5])
        assert.equal(await store.count(), live.length)
        assert.equal(await store.count({includeRevoked: true}), all.length)
        assert.equal(await store.count({includeRevoked: false}), 3)
        assert.deepEqual(ids(await collect(store.list({includeRevoked: false}))), [1, 3, 5])
      })

      it('yield full records equal to get', async () => {
        await store.put(fullRecord(1))
        await store.add({api_key: key(2)})
        const listed = await collect(store.list())
        assert.deepEqual(listed, [fullRecord(1), defaultRecord(2, key(2))])
      })

      it(`handle ${largeListSize} clients: id order, counts, tombstones`, async function () {
        this.timeout(largeListTimeoutMs)
        const added = await addMany(largeListSize)
        assert.deepEqual(ids(added), Array.from({length: largeListSize}, (_, i) => i + 1))
        const revoked = [1, Math.ceil(largeListSize / 2), largeListSize]
        for (const id of revoked) await store.revoke(id)

        let previous = 0
        let listed = 0
        for await (const record of store.list({includeRevoked: true})) {
          assert.ok(record.client_id > previous, `list order broken at id ${record.client_id} after ${previous}`)
          previous = record.client_id
          assert.equal(record.api_key, revoked.includes(record.client_id) ? 'revoked' : key(record.client_id))
          listed++
        }
        assert.equal(listed, largeListSize)
        const live = await collect(store.list())
        assert.equal(live.length, largeListSize - revoked.length)
        assert.ok(live.every((record) => !revoked.includes(record.client_id)))
        assert.equal(await store.count(), largeListSize - revoked.length)
        assert.equal(await store.count({includeRevoked: true}), largeListSize)
      })

      it('may be left early, and the store stays usable', async function () {
        this.timeout(largeListTimeoutMs)
        await addMany(largeListSize)
        const seen: number[] = []
        for await (const record of store.list()) {
          seen.push(record.client_id)
          if (seen.length === 3) break
        }
        assert.deepEqual(seen, [1, 2, 3])
        const next = await store.add({api_key: key('after-break')})
        assert.equal(next.client_id, largeListSize + 1)
        assert.equal(await store.count(), largeListSize + 1)
      })
    })

    describe('revision', () => {
      it('is a string that stays the same while nothing changes (reads included)', async () => {
        await store.add({api_key: key(1)})
        const before = await store.revision()
        assert.equal(typeof before, 'string')
        await store.get(1)
        await store.getByApiKey(key(1))
        await collect(store.list({includeRevoked: true}))
        await store.count()
        assert.equal(await store.revision(), before)
        assert.equal(await store.revision(), before)
      })

      it('changes after every kind of write', async () => {
        let last = await store.revision()
        const expectChange = async (what: string) => {
          const now = await store.revision()
          assert.notEqual(now, last, `revision unchanged after ${what}`)
          last = now
        }
        await store.add({api_key: key(1)})
        await expectChange('add')
        await store.put(fullRecord(5))
        await expectChange('put (insert)')
        await store.put({...fullRecord(5), name: 'replaced'})
        await expectChange('put (replace)')
        await store.update(1, {name: 'updated'})
        await expectChange('update')
        await store.revoke(1)
        await expectChange('revoke')
        if (store.putMany) {
          await store.putMany([fullRecord(8), fullRecord(9)])
          await expectChange('putMany')
        }
      })

      it("changes after every kind of write by another instance over the same data (another process's)", async function () {
        if (!options.another) this.skip()
        await store.add({api_key: key(1)})
        const other = await options.another!(store)
        assert.notEqual(other, store, 'options.another must give a second instance, not the store it was given')
        opened.push(other)
        await other.open()
        let last = await store.revision()
        const expectChange = async (what: string) => {
          const now = await store.revision()
          assert.notEqual(now, last, `revision unchanged after another instance's ${what}`)
          last = now
        }
        await other.add({api_key: key(2)})
        await expectChange('add')
        await other.put(fullRecord(5))
        await expectChange('put')
        await other.update(1, {name: 'updated elsewhere'})
        await expectChange('update')
        await other.revoke(2)
        await expectChange('revoke')
        // And what it wrote is what this one reads.
        assert.equal((await store.get(1))?.name, 'updated elsewhere')
        assert.equal(await store.getByApiKey(key(2)), undefined)
      })
    })

    describe('round trips', () => {
      const unicode: ClientRecord = {
        ...fullRecord(1, 'unicode'),
        api_key: 'clé-🔑-鍵',
        name: '🐝 Küche – 台所 – מטבח – مطبخ',
        description: 'RTL: שלום עולם / مرحبا بالعالم; CJK: 你好世界 こんにちは 안녕하세요; combining: e\u0301; ZWJ: 👩‍👩‍👧; astral: 𝄞',
        intent_blacklist: ['skill-météo:Prévision', 'навык:намерение'],
        skill_blacklist: ['技能'],
        message_blacklist: ['speak:🗣️'],
        allowed_types: ['recognizer_loop:utterance', 'تجربة'],
        password: 'pässwörd-密码',
        crypto_key: 'ünïcødé-key-16ch',
        metadata: {
          '🏠': {'部屋': ['台所', 'مطبخ', {deep: {deeper: [1, 2.5, -3, true, false, null, '']}}]},
          empty: {},
          emptyList: [],
          number: 0.1,
          big: 9_007_199_254_740_991,
          text: 'line\nbreak\ttab "quotes" \\ backslash',
        },
      }

      const sparse: ClientRecord = {
        ...defaultRecord(2, key('sparse')),
        allowed_types: [],
        intent_blacklist: [],
        skill_blacklist: [],
        message_blacklist: [],
        crypto_key: null,
        password: null,
        name: '',
        last_seen: 0,
      }

      it('keep unicode text and nested metadata exactly', async () => {
        await store.put(unicode)
        assert.deepEqual(await store.get(1), unicode)
        assert.deepEqual(await store.getByApiKey('clé-🔑-鍵'), unicode)
        assert.deepEqual(await collect(store.list()), [unicode])
      })

      it('keep metadata keys named like Object.prototype members ("__proto__", "constructor")', async function () {
        // As JSON.parse gives them: ordinary own keys.
        const metadata = JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x", "nested": {"__proto__": [1]}}') as Record<string, unknown>
        const record: ClientRecord = {...fullRecord(1), metadata}
        await store.put(record)
        for (const stored of [await store.get(1), ...(await collect(store.list()))]) {
          assert.deepEqual(Object.keys(stored!.metadata), ['__proto__', 'constructor', 'nested'])
          assert.equal(JSON.stringify(stored!.metadata), JSON.stringify(metadata))
        }
        if (reopen) {
          await reopenStore()
          assert.equal(JSON.stringify((await store.get(1))!.metadata), JSON.stringify(metadata))
        }
        assert.equal(({} as {polluted?: boolean}).polluted, undefined, 'Object.prototype was changed')
      })

      it('keep empty lists, empty strings and null secrets', async () => {
        await store.put(sparse)
        assert.deepEqual(await store.get(2), sparse)
        const added = await store.add({api_key: key('nulls'), password: null, crypto_key: null, allowed_types: []})
        assert.deepEqual(await store.get(added.client_id), {...defaultRecord(added.client_id, key('nulls')), allowed_types: []})
      })

      it('keep every field through update', async () => {
        await store.add({api_key: key('plain')})
        const {client_id: _ignored, ...fields} = unicode
        await store.update(1, fields)
        assert.deepEqual(await store.get(1), {...unicode, client_id: 1})
      })
    })

    describe('lastId and reserveIds (when the store has them)', () => {
      it('lastId is 0 when empty and follows add and put, never going back', async function () {
        if (!store.lastId) this.skip()
        assert.equal(await store.lastId!(), 0)
        await addMany(3)
        assert.equal(await store.lastId!(), 3)
        await store.put(fullRecord(9))
        assert.equal(await store.lastId!(), 9)
        await store.put(fullRecord(5))
        await store.revoke(9)
        assert.equal(await store.lastId!(), 9)
        if (store.clear) {
          await store.clear()
          assert.equal(await store.lastId!(), 9, 'clear() keeps the counter')
        }
      })

      it('reserveIds(50) makes the next add take 51; a lower reservation moves nothing back', async function () {
        if (!store.reserveIds) this.skip()
        await addMany(2)
        await store.reserveIds(50)
        await store.reserveIds(10)
        if (store.lastId) assert.equal(await store.lastId(), 50)
        assert.equal((await store.add({api_key: key('after')})).client_id, 51)
        assert.equal(await store.count(), 3)
        await rejectsWithCode(store.reserveIds(-1), 'INVALID_INPUT', 'reserveIds(-1)')
        await rejectsWithCode(store.reserveIds(1.5), 'INVALID_INPUT', 'reserveIds(1.5)')
      })

      it('a reservation survives close and reopen', async function () {
        if (!store.reserveIds || !reopen) this.skip()
        await store.reserveIds(40)
        await reopenStore()
        if (store.lastId) assert.equal(await store.lastId(), 40)
        assert.equal((await store.add({api_key: key(1)})).client_id, 41)
      })
    })

    describe('modify (when the store has it)', () => {
      it('applies the change to the record as stored and returns the stored record', async function () {
        if (!store.modify) this.skip()
        await store.put(fullRecord(1))
        const seen: ClientRecord[] = []
        const stored = await store.modify!(1, (current) => {
          seen.push(current)
          return {skill_blacklist: [...current.skill_blacklist, 'added']}
        })
        assert.deepEqual(seen.at(-1), fullRecord(1), 'change was not handed the stored record')
        const expected = {...fullRecord(1), skill_blacklist: [...fullRecord(1).skill_blacklist, 'added']}
        assert.deepEqual(stored, expected)
        assert.deepEqual(await store.get(1), expected)
      })

      it('loses none of 20 concurrent list additions to one record', async function () {
        if (!store.modify) this.skip()
        await store.add({api_key: key(1)})
        const values = Array.from({length: 20}, (_, i) => `skill-${i}`)
        await Promise.all(values.map((value) => store.modify!(1, (current) => ({skill_blacklist: [...current.skill_blacklist, value]}))))
        assert.deepEqual([...(await store.get(1))!.skill_blacklist].sort(), [...values].sort())
      })

      it('writes nothing when the change returns undefined, even if it edited what it was handed', async function () {
        if (!store.modify) this.skip()
        await store.put(fullRecord(1))
        const stored = await store.modify!(1, (current) => {
          current.name = 'edited in place'
          current.skill_blacklist.push('pushed in place')
          return undefined
        })
        assert.deepEqual(stored, fullRecord(1))
        assert.deepEqual(await store.get(1), fullRecord(1))
      })

      it('stores nothing when the change throws, and rejects with its error', async function () {
        if (!store.modify) this.skip()
        await store.put(fullRecord(1))
        const refusal = new Error('refused by the change')
        await assert.rejects(store.modify!(1, () => {
          throw refusal
        }), (error: unknown) => error === refusal)
        assert.deepEqual(await store.get(1), fullRecord(1))
      })

      it('sees a revocation made before it', async function () {
        if (!store.modify) this.skip()
        await store.put(fullRecord(1))
        await store.revoke(1)
        let seenKey: string | undefined
        await store.modify!(1, (current) => {
          seenKey = current.api_key
          return undefined
        })
        assert.equal(seenKey, 'revoked')
      })

      it('rejects an unknown id (CLIENT_NOT_FOUND) without creating it', async function () {
        if (!store.modify) this.skip()
        await rejectsWithCode(store.modify!(7, () => ({name: 'x'})), 'CLIENT_NOT_FOUND', 'modify of an unknown id')
        assert.equal(await store.get(7), undefined)
        assert.equal(await store.count({includeRevoked: true}), 0)
      })
    })

    describe('putMany (when the store has it)', () => {
      it('stores every record with its id and advances the counter', async function () {
        if (!store.putMany) this.skip()
        await store.putMany!([fullRecord(3), fullRecord(1), {...fullRecord(9), api_key: 'revoked', password: null, crypto_key: null}])
        assert.deepEqual(ids(await collect(store.list({includeRevoked: true}))), [1, 3, 9])
        assert.deepEqual(await store.get(3), fullRecord(3))
        const next = await store.add({api_key: key('after-putMany')})
        assert.ok(next.client_id >= 10, `add after putMany up to id 9 gave id ${next.client_id}`)
      })

      it('stores nothing when one record clashes with a stored live key (DUPLICATE_API_KEY)', async function () {
        if (!store.putMany) this.skip()
        await store.put(fullRecord(1))
        const before = await collect(store.list({includeRevoked: true}))
        await rejectsWithCode(
          store.putMany!([fullRecord(10), fullRecord(11), {...fullRecord(12), api_key: key(1)}]),
          'DUPLICATE_API_KEY',
          'putMany clashing with a stored key',
        )
        assert.deepEqual(await collect(store.list({includeRevoked: true})), before)
        assert.equal(await store.get(10), undefined)
        assert.equal(await store.getByApiKey(key(10)), undefined)
        const next = await store.add({api_key: key('after-failed-putMany')})
        assert.equal(next.client_id, 2, 'a failed putMany must not have advanced the counter')
      })

      it('stores nothing when two records of the batch share a live key', async function () {
        if (!store.putMany) this.skip()
        await rejectsWithCode(
          store.putMany!([fullRecord(1), {...fullRecord(2), api_key: key(1)}]),
          'DUPLICATE_API_KEY',
          'putMany with a duplicate inside the batch',
        )
        assert.equal(await store.count({includeRevoked: true}), 0)
      })
    })

    describe('open and close', () => {
      it('close is idempotent', async () => {
        await store.add({api_key: key(1)})
        await store.close()
        await store.close()
      })

      it('a closed store refuses writes and reads instead of pretending', async () => {
        await store.add({api_key: key(1)})
        await store.close()
        await assert.rejects(store.add({api_key: key(2)}), 'add on a closed store')
        await assert.rejects(store.get(1), 'get on a closed store')
        await assert.rejects(store.getByApiKey(key(1)), 'getByApiKey on a closed store')
        await assert.rejects(collect(store.list()), 'list on a closed store')
        await assert.rejects(store.count(), 'count on a closed store')
      })

      it('writes requested without waiting take effect in call order', async () => {
        await store.add({api_key: key(1)})
        // Forty updates of one field and two adds, all requested at once: a store that lets its
        // driver reorder them ends with another name than the last, or other ids.
        const requested: Array<Promise<unknown>> = []
        for (let n = 1; n <= 40; n++) requested.push(store.update(1, {name: `name ${n}`}))
        requested.push(store.add({api_key: key(2)}), store.add({api_key: key(3)}))
        await Promise.all(requested)
        assert.equal((await store.get(1))?.name, 'name 40', 'the last update requested is not the one that stayed')
        assert.deepEqual([(await store.getByApiKey(key(2)))?.client_id, (await store.getByApiKey(key(3)))?.client_id], [2, 3], 'adds requested in order got ids out of order')
      })

      it('close waits for writes already requested', async () => {
        const pending = [store.add({api_key: key(1)}), store.add({api_key: key(2)}), store.put(fullRecord(9))]
        await store.close()
        const settled = await Promise.allSettled(pending)
        for (const outcome of settled) assert.equal(outcome.status, 'fulfilled', outcome.status === 'rejected' ? String(outcome.reason) : '')
        if (reopen) {
          await reopenStore()
          assert.deepEqual(ids(await collect(store.list())), [1, 2, 9])
        }
      })

      it('everything survives close and reopen', async function () {
        if (!reopen) this.skip()
        await store.put(fullRecord(1))
        await store.add({api_key: key(2), name: 'two'})
        await store.put(fullRecord(3))
        await store.revoke(3)
        await store.put(fullRecord(50))
        await store.revoke(50)
        const before = await collect(store.list({includeRevoked: true}))
        await reopenStore()
        assert.deepEqual(await collect(store.list({includeRevoked: true})), before)
        assert.deepEqual(await store.getByApiKey(key(1)), fullRecord(1))
        assert.equal(await store.getByApiKey(key(3)), undefined)
        assert.equal(await store.getByApiKey('revoked'), undefined)
        assert.equal(await store.count(), 2)
        assert.equal(await store.count({includeRevoked: true}), 4)
        const next = await store.add({api_key: key('after-reopen')})
        assert.ok(next.client_id >= 51, `add after reopen gave id ${next.client_id}; the highest (revoked) id was 50`)
        await rejectsWithCode(store.add({api_key: key(1)}), 'DUPLICATE_API_KEY', 'add of a live key after reopen')
      })

      it('unicode and empty values survive close and reopen', async function () {
        if (!reopen) this.skip()
        const record: ClientRecord = {
          ...fullRecord(1),
          name: '🐝 台所 מטבח',
          allowed_types: [],
          crypto_key: null,
          password: null,
          metadata: {'鍵': {nested: ['ü', null, 1.25, {}]}},
        }
        await store.put(record)
        await reopenStore()
        assert.deepEqual(await store.get(1), record)
      })
    })
  })
}
