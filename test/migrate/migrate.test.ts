/**
 * The migration pipeline on real stores (JSON files and SQLite in a temp directory): the plan is
 * read once, verification trusts it only while the source's revision holds, and every kind of
 * difference is reported. The CLI behaviour is in test/commands/migrate-db.test.ts.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {buildClient, canonicalJson, type ClientRecord, sameClient} from '../../src/core/client.js'
import type {ClientStore} from '../../src/core/store.js'
import {copyRecords, isCurrentDigest, planMigration, recordsDigest, storeDigest, verifyMigration} from '../../src/migrate/migrate.js'
import {jsonBackend} from '../../src/plugins/json/index.js'
import {sqliteBackend} from '../../src/plugins/sqlite/index.js'
import {variedClients} from '../helpers/varied-clients.js'

const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write' as const, warn() {}}

describe('migrate pipeline', function () {
  this.timeout(60_000)
  let dir: string
  let stores: ClientStore[]

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-migrate-'))
    stores = []
  })

  afterEach(async () => {
    for (const store of stores) await store.close()
    rmSync(dir, {recursive: true, force: true})
  })

  async function json(name: string): Promise<ClientStore> {
    const store = await jsonBackend.create({path: path.join(dir, `${name}.json`), lockStaleMs: 2000, lockWaitMs: 30_000}, context)
    await store.open()
    stores.push(store)
    return store
  }

  async function sqlite(name: string): Promise<ClientStore> {
    const store = await sqliteBackend.create({path: path.join(dir, `${name}.db`), busyTimeoutMs: 10_000}, context)
    await store.open()
    stores.push(store)
    return store
  }

  /** A source holding `records`, a target holding a verified copy, and the plan of that copy. */
  async function migrated(records: ClientRecord[]) {
    const source = await json('source')
    await source.putMany!(records)
    const target = await sqlite('target')
    const plan = await planMigration(source, target)
    await copyRecords(target, plan.toCopy, 7, () => {})
    return {source, target, plan}
  }

  it('verifies a faithful copy from the plan, without the source having changed', async () => {
    const {source, target, plan} = await migrated(variedClients(60))
    expect(plan.sourceRecords).to.have.length(60)
    const verification = await verifyMigration(source, target, new Set(), plan)
    expect(verification).to.deep.include({ok: true, sourceCount: 60, targetCount: 60, missing: [], extra: [], different: [], sourceChanged: false})
  })

  it('storeDigest of a verified target equals recordsDigest of its source (what a completed mark keeps), and moves with any change to the target', async () => {
    const {source, target, plan} = await migrated(variedClients(40))
    expect((await verifyMigration(source, target, new Set(), plan)).ok).to.equal(true)
    const kept = recordsDigest(plan.sourceRecords)
    expect(await storeDigest(target)).to.equal(kept)
    expect(await storeDigest(source)).to.equal(kept)
    await target.revoke(3)
    expect(await storeDigest(target)).to.not.equal(kept)
  })

  it('reports a target record changed after the copy, naming the field', async () => {
    const {source, target, plan} = await migrated(variedClients(30))
    await target.update(12, {name: 'someone else'})
    const verification = await verifyMigration(source, target, new Set(), plan)
    expect(verification.ok).to.equal(false)
    expect(verification.different).to.deep.equal([{client_id: 12, fields: ['name']}])
  })

  it('reports missing and unexpected records and a count mismatch', async () => {
    const records = variedClients(30)
    const source = await json('source')
    await source.putMany!(records)
    const target = await sqlite('target')
    const plan = await planMigration(source, target)
    await copyRecords(target, plan.toCopy.filter((record) => record.client_id !== 5), 100, () => {})
    await target.put(buildClient(99, {api_key: 'not-from-the-source'}))
    const verification = await verifyMigration(source, target, new Set(), plan)
    expect(verification).to.deep.include({ok: false, sourceCount: 30, targetCount: 30, missing: [5], extra: [99], different: []})
  })

  it('re-reads a source that changed after the plan: the target must hold what the source holds now', async () => {
    const {source, target, plan} = await migrated(variedClients(20))
    await source.put(buildClient(21, {api_key: 'written-while-migrating'}))
    const verification = await verifyMigration(source, target, new Set(), plan)
    expect(verification).to.deep.include({ok: false, sourceChanged: true, sourceCount: 21, missing: [21]})
  })

  it('a --merge keeps the target\'s own records: present is fine, gone is missing', async () => {
    const records = variedClients(10)
    const source = await json('source')
    await source.putMany!(records)
    const target = await sqlite('target')
    await target.put(buildClient(50, {api_key: 'target-only'}))
    const plan = await planMigration(source, target)
    expect(plan.extra).to.deep.equal([50])
    await copyRecords(target, plan.toCopy, 3, () => {})
    expect((await verifyMigration(source, target, new Set(plan.extra), plan)).ok).to.equal(true)
    expect((await verifyMigration(source, target, new Set([50, 51]), plan)).missing).to.deep.equal([51])
  })

  /** The target as a plugin breaking the listing contract would show it: `reorder` rewrites its listing. */
  function relisted(store: ClientStore, reorder: (records: ClientRecord[]) => ClientRecord[]): ClientStore {
    return Object.assign(Object.create(store) as ClientStore, {
      async *list(options?: Parameters<ClientStore['list']>[0]) {
        const records: ClientRecord[] = []
        for await (const record of store.list(options)) records.push(record)
        yield* reorder(records)
      },
    })
  }

  it('a target listing out of id order is still compared record by record (by id)', async () => {
    const {source, target, plan} = await migrated(variedClients(25))
    await target.update(7, {name: 'changed'})
    const reversed = relisted(target, (records) => records.reverse())
    const verification = await verifyMigration(source, reversed, new Set(), plan)
    expect(verification).to.deep.include({ok: false, targetCount: 25, missing: [], extra: []})
    expect(verification.different).to.deep.equal([{client_id: 7, fields: ['name']}])
    await target.update(7, {name: plan.sourceRecords[6]!.name})
    expect((await verifyMigration(source, reversed, new Set(), plan)).ok).to.equal(true)
  })

  it('a record listed twice by the target is unexpected, in order or not', async () => {
    const {source, target, plan} = await migrated(variedClients(12))
    const twice = (records: ClientRecord[]) => [...records.slice(0, 5), records[4]!, ...records.slice(5)]
    const inOrder = await verifyMigration(source, relisted(target, twice), new Set(), plan)
    expect(inOrder).to.deep.include({ok: false, missing: [], extra: [5], different: []})
    const shuffled = await verifyMigration(source, relisted(target, (records) => twice(records).reverse()), new Set(), plan)
    expect(shuffled).to.deep.include({ok: false, missing: [], extra: [5], different: []})
  })

  it('sameClient agrees with canonical JSON equality', () => {
    const records = variedClients(40)
    const variants: ClientRecord[] = []
    for (const record of records) {
      variants.push(
        record,
        structuredClone(record),
        {...record, metadata: Object.fromEntries(Object.entries(record.metadata).reverse())},
        {...record, metadata: {...record.metadata, extra: 1}},
        {...record, allowed_types: [...record.allowed_types, 'x']},
        {...record, allowed_types: [...record.allowed_types].reverse()},
        {...record, last_seen: record.last_seen + 0.5},
        {...record, password: record.password === null ? '' : null},
        {...record, is_admin: !record.is_admin},
        {...record, metadata: {}},
      )
    }
    let equalPairs = 0
    for (let i = 0; i < variants.length; i++) {
      for (const j of [i, i + 1, i + 2, i + 9, i + 10]) {
        const a = variants[i]!
        const b = variants[j % variants.length]!
        const expected = canonicalJson(a) === canonicalJson(b)
        if (expected) equalPairs++
        expect(sameClient(a, b), `${i} vs ${j}`).to.equal(expected)
      }
    }
    expect(equalPairs).to.be.greaterThan(variants.length)
  })
})

describe('recordsDigest (the source fingerprint of a completed migration)', () => {
  const base = buildClient(7, {api_key: 'key-7', name: 'kitchen', description: 'by the window', password: 'secret', crypto_key: null, intent_blacklist: ['a:b'], metadata: {room: 'k'}})
  const digestOf = (record: ClientRecord) => recordsDigest([record])

  it('is the same for equal records and in the current format', () => {
    const records = variedClients(50)
    const copies = records.map((record) => ({...record, metadata: {...record.metadata}}))
    expect(recordsDigest(copies)).to.equal(recordsDigest(records))
    expect(isCurrentDigest(recordsDigest(records))).to.equal(true)
    // A mark written by an older version (a bare hex digest) is not comparable.
    expect(isCurrentDigest('5c2b1bbcb4a6')).to.equal(false)
  })

  it('is the fingerprint earlier versions wrote into completion marks (1,000 varied records: hashed in several chunks)', () => {
    // Computed by the version that hashed record by record: a mark it wrote must still match.
    expect(recordsDigest(variedClients(1000))).to.equal('canonical-sha256:a68f79c391e3fca1937ddd8e1e1338b0f089f0d320b2fcfda1248b2f22c6aa62')
  })

  it('changes with every field', () => {
    const changes: Array<Partial<ClientRecord>> = [
      {client_id: 8}, {api_key: 'key-8'}, {name: 'kitchen2'}, {description: ''}, {is_admin: true}, {last_seen: 12.5},
      {intent_blacklist: []}, {skill_blacklist: ['s']}, {message_blacklist: ['m']}, {allowed_types: ['speak']},
      {crypto_key: '0123456789abcdef'}, {password: null}, {can_broadcast: false}, {can_escalate: false}, {can_propagate: false}, {metadata: {room: 'l'}},
    ]
    const digests = new Set([digestOf(base)])
    for (const change of changes) digests.add(digestOf({...base, ...change}))
    expect(digests.size).to.equal(changes.length + 1)
  })

  it('tells apart records whose fields only differ in where one ends and the next begins', () => {
    const pairs: Array<[Partial<ClientRecord>, Partial<ClientRecord>]> = [
      [{name: 'ab', description: 'c'}, {name: 'a', description: 'bc'}],
      [{intent_blacklist: ['a,b']}, {intent_blacklist: ['a', 'b']}],
      [{intent_blacklist: ['x'], skill_blacklist: []}, {intent_blacklist: [], skill_blacklist: ['x']}],
      [{crypto_key: null}, {crypto_key: '-'}],
      [{password: null}, {password: ''}],
      [{name: '1:a'}, {name: 'a', description: '1:a'}],
    ]
    for (const [one, other] of pairs) expect(digestOf({...base, ...one}), JSON.stringify([one, other])).to.not.equal(digestOf({...base, ...other}))
  })

  it('does not depend on the order a backend lists metadata keys in (a target listing them otherwise still fingerprints as the source verified equal), but does on their values', () => {
    const one = {...base, metadata: {zone: 'b', area: 'a', nested: {y: 1, x: [{d: 1, c: 2}]}}}
    const other = {...base, metadata: {area: 'a', nested: {x: [{c: 2, d: 1}], y: 1}, zone: 'b'}}
    expect(digestOf(one)).to.equal(digestOf(other))
    expect(digestOf(one)).to.not.equal(digestOf({...base, metadata: {...one.metadata, zone: 'c'}}))
  })

  it('depends on the order and the number of records', () => {
    const [first, second] = variedClients(2)
    expect(recordsDigest([first!, second!])).to.not.equal(recordsDigest([second!, first!]))
    expect(recordsDigest([first!])).to.not.equal(recordsDigest([first!, first!]))
  })
})
