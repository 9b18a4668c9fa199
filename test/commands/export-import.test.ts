/**
 * export-clients and import-clients: the upstream CSV and clients.json shapes, exact round trips,
 * conflicts, --force, --dry-run, file modes, and bad files that must change nothing.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, closeSync, existsSync, fchmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {AuditingStore} from '../../src/audit/auditing-store.js'
import {planImport} from '../../src/commands/import-clients.js'
import {buildClient} from '../../src/core/client.js'
import {LOOKUPS_IN_FLIGHT} from '../../src/core/lookups.js'
import {MemoryStore} from '../../src/core/memory-store.js'
import type {ClientStore} from '../../src/core/store.js'
import {BIN, client, type Client, errorLine, expectCleanFailure, modeOf, pooled, Sandbox} from '../helpers/cli.js'

/**
 * A store whose reads by id and by key take a moment and count how many are pending at once: a
 * command reading one client at a time never has two (one network round trip per client).
 */
function countingReads(inner: ClientStore): {store: ClientStore; most: () => number} {
  let pending = 0
  let most = 0
  const slow = (read: (argument: never) => Promise<unknown>) => async (argument: never) => {
    pending++
    most = Math.max(most, pending)
    await new Promise((resolve) => setImmediate(resolve))
    try {
      return await read(argument)
    } finally {
      pending--
    }
  }
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (property === 'get' || property === 'getByApiKey') return slow((value as (argument: never) => Promise<unknown>).bind(target))
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
  return {store, most: () => most}
}

/** An upstream (Python hivemind-core) clients.json: keyed by id strings, snake_case, 4-space indent. */
const UPSTREAM: Record<string, Record<string, unknown>> = {
  1: {
    client_id: 1, api_key: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', name: 'kitchen', description: 'by the fridge', is_admin: false,
    last_seen: 1_700_000_000.25, intent_blacklist: ['skill-weather.openvoiceos:weather.intent'], skill_blacklist: ['skill-x'],
    message_blacklist: ['speak'], allowed_types: ['recognizer_loop:utterance'], crypto_key: '0123456789abcdef', password: 'kitchen-password',
    can_broadcast: true, can_escalate: false, can_propagate: true, metadata: {room: 'kitchen', floor: 1},
  },
  // An old record: no metadata, an unknown extra key, fields missing.
  2: {client_id: 2, api_key: 'office-key-0002', name: 'Büro 東京 🖥', is_admin: true, password: 'office-password', crypto_key: null, legacy_flag: 'yes'},
  // A tombstone.
  3: {client_id: 3, api_key: 'revoked', name: 'gone', description: '', is_admin: false, last_seen: -1, crypto_key: null, password: null},
  // A gap in the ids; a name that needs CSV quoting; empty lists.
  5: {client_id: 5, api_key: 'bridge-key-0005', name: 'bridge, "north"', allowed_types: [], password: 'bridge-password', can_propagate: false},
}

const EXPECTED: Client[] = [
  client({
    client_id: 1, api_key: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', name: 'kitchen', description: 'by the fridge', last_seen: 1_700_000_000.25,
    intent_blacklist: ['skill-weather.openvoiceos:weather.intent'], skill_blacklist: ['skill-x'], message_blacklist: ['speak'],
    allowed_types: ['recognizer_loop:utterance'], crypto_key: '0123456789abcdef', password: 'kitchen-password', can_escalate: false,
    metadata: {room: 'kitchen', floor: 1},
  }),
  client({client_id: 2, api_key: 'office-key-0002', name: 'Büro 東京 🖥', is_admin: true, password: 'office-password', metadata: {legacy_flag: 'yes'}}),
  client({client_id: 3, api_key: 'revoked', name: 'gone'}),
  client({client_id: 5, api_key: 'bridge-key-0005', name: 'bridge, "north"', allowed_types: [], password: 'bridge-password', can_propagate: false}),
]

const SECRETS = ['a1b2c3d4e5f60718293a4b5c6d7e8f90', 'kitchen-password', '0123456789abcdef', 'office-key-0002', 'office-password', 'bridge-key-0005', 'bridge-password']

const CSV = [
  'client_id,name,is_admin,access_key,password,crypto_key',
  '1,kitchen,False,a1b2c3d4e5f60718293a4b5c6d7e8f90,kitchen-password,0123456789abcdef',
  '2,Büro 東京 🖥,True,office-key-0002,office-password,',
  '5,"bridge, ""north""",False,bridge-key-0005,bridge-password,',
  '',
].join('\n')

/** What export-clients --format json must write for EXPECTED: the upstream shape. */
function upstreamText(records: Client[]): string {
  return `${JSON.stringify(Object.fromEntries(records.map((record) => [String(record.client_id), record])), null, 4)}\n`
}

describe('import-clients reads many clients at once', () => {
  it('planImport looks clients up LOOKUPS_IN_FLIGHT at a time, and decides as before', async () => {
    const memory = new MemoryStore()
    await memory.open()
    await memory.putMany(Array.from({length: 100}, (_, index) => buildClient(index + 1, {api_key: `stored-${index + 1}`, name: `stored ${index + 1}`})))
    const {store, most} = countingReads(memory)
    const fields = new Set(['client_id', 'api_key', 'name'] as const)
    const incoming = [
      ...Array.from({length: 300}, (_, index) => ({record: buildClient(index + 101, {api_key: `new-${index}`, name: `new ${index}`}), fields})),
      // Identical to a stored one; different from a stored one; a key another stored client holds; a key used twice in the file.
      {record: buildClient(1, {api_key: 'stored-1', name: 'stored 1'}), fields},
      {record: buildClient(2, {api_key: 'stored-2', name: 'renamed'}), fields},
      {record: buildClient(900, {api_key: 'stored-3', name: 'thief'}), fields},
      {record: buildClient(901, {api_key: 'new-0', name: 'twin'}), fields},
    ]
    const plan = await planImport(store, incoming, false)
    expect(plan.add.map((record) => record.client_id)).to.deep.equal(Array.from({length: 300}, (_, index) => index + 101))
    expect(plan.identical).to.equal(1)
    expect(plan.conflicts).to.deep.equal([
      {client_id: 2, reason: 'differs from the stored client "stored 2"'},
      {client_id: 900, reason: 'access key already used by client 3'},
      {client_id: 901, reason: 'access key also used by client 101 in the same file'},
    ])
    expect(most()).to.equal(LOOKUPS_IN_FLIGHT)
  })

  it("the audit's putMany reads the clients it replaces many at a time", async () => {
    const memory = new MemoryStore()
    await memory.open()
    await memory.putMany(Array.from({length: 100}, (_, index) => buildClient(index + 1, {api_key: `stored-${index + 1}`})))
    const {store, most} = countingReads(memory)
    const audited = new AuditingStore(store)
    await audited.putMany!(Array.from({length: 200}, (_, index) => buildClient(index + 1, {api_key: `written-${index + 1}`})))
    const inputs = audited.drain()
    expect(inputs).to.have.length(200)
    expect(inputs.filter((input) => (input.details as {replaced: boolean}).replaced)).to.have.length(100)
    expect(most()).to.equal(LOOKUPS_IN_FLIGHT)
  })
})

describe('export-clients / import-clients', () => {
  let hive: Sandbox
  let upstreamFile: string

  before(async function () {
    this.timeout(60_000)
    hive = Sandbox.create()
    upstreamFile = path.join(hive.root, 'clients.json')
    writeFileSync(upstreamFile, JSON.stringify(UPSTREAM, null, 4))
    const imported = await hive.run(['import-clients', upstreamFile, '-q'])
    expect(imported.code, imported.stderr).to.equal(0)
  })
  after(() => hive.cleanup())

  describe('import-clients', () => {
    it('reads an upstream clients.json: defaults filled, unknown keys folded into metadata, ids kept', async () => {
      const fresh = Sandbox.create()
      try {
        const result = await fresh.run(['import-clients', upstreamFile])
        expect(result.code, result.stderr).to.equal(0)
        expect(result.stdout).to.equal('Imported 4 new client(s), replaced 0, 0 already identical, 0 conflict(s).\n')
        expect(result.stderr).to.equal(`${fresh.databaseLine}\n`)
        expect(await fresh.records()).to.deep.equal(EXPECTED)
        // The id counter moved past the imported ids: 4 is a gap, not a free id to hand out.
        expect((await fresh.addClient('--name', 'new')).client_id).to.equal(6)
      } finally {
        fresh.cleanup()
      }
    })

    it('--json prints {file, added, replaced, identical, conflicts, dryRun}; importing again is all identical', async () => {
      const sandbox = hive.clone()
      try {
        const before = sandbox.digest()
        const printed = await sandbox.json<Record<string, unknown>>(['import-clients', upstreamFile])
        expect(Object.keys(printed)).to.deep.equal(['file', 'added', 'replaced', 'identical', 'conflicts', 'dryRun'])
        expect(printed).to.deep.equal({file: upstreamFile, added: 0, replaced: 0, identical: 4, conflicts: [], dryRun: false})
        expect(sandbox.digest()).to.equal(before)
      } finally {
        sandbox.cleanup()
      }
    })

    it('--dry-run writes nothing: no database is created, an existing one is left byte-identical', async () => {
      const fresh = Sandbox.create()
      const sandbox = hive.clone()
      try {
        const changed = path.join(sandbox.root, 'changed.json')
        writeFileSync(changed, JSON.stringify({...UPSTREAM, 1: {...UPSTREAM[1], name: 'renamed'}, 9: {client_id: 9, api_key: 'new-key-0009'}}))
        const before = sandbox.digest()
        const [onFresh, onExisting] = await Promise.all([
          fresh.run(['import-clients', upstreamFile, '--dry-run', '-q']),
          sandbox.run(['import-clients', changed, '--dry-run', '--force', '-q']),
        ])
        expect(onFresh.code, onFresh.stderr).to.equal(0)
        expect(onFresh.stdout).to.equal('Would import 4 new client(s), would replace 0, 0 already identical, 0 conflict(s).\n')
        expect(existsSync(fresh.dbPath)).to.equal(false)
        expect(onExisting.code, onExisting.stderr).to.equal(0)
        expect(onExisting.stdout).to.equal('Would import 1 new client(s), would replace 1, 3 already identical, 0 conflict(s).\n')
        expect(sandbox.digest()).to.equal(before)
      } finally {
        fresh.cleanup()
        sandbox.cleanup()
      }
    })

    it('a client that differs is a conflict: non-zero, nothing written (not even the new ones); --force replaces', async () => {
      const sandbox = hive.clone()
      try {
        const changed = path.join(sandbox.root, 'changed.json')
        writeFileSync(changed, JSON.stringify({...UPSTREAM, 1: {...UPSTREAM[1], name: 'renamed'}, 9: {client_id: 9, api_key: 'new-key-0009'}}))
        const before = sandbox.digest()
        const refused = await sandbox.run(['import-clients', changed, '-q'])
        expectCleanFailure(refused, 1, SECRETS)
        expect(refused.stdout).to.equal('')
        expect(refused.stderr).to.equal(
          '  conflict: client 1: differs from the stored client "kitchen"\n' +
            'Error: 1 conflicting client(s); nothing was imported\n' +
            "Hint: pass --force to replace the stored clients with the file's\n",
        )
        expect(sandbox.digest()).to.equal(before)

        const forced = await sandbox.run(['import-clients', changed, '--force', '-q'])
        expect(forced.code, forced.stderr).to.equal(0)
        expect(forced.stdout).to.equal('Imported 1 new client(s), replaced 1, 3 already identical, 0 conflict(s).\n')
        expect(await sandbox.records()).to.deep.equal([
          {...EXPECTED[0]!, name: 'renamed'},
          ...EXPECTED.slice(1),
          client({client_id: 9, api_key: 'new-key-0009'}),
        ])
      } finally {
        sandbox.cleanup()
      }
    })

    it('a client revoked since the file was written: the conflict says importing would give its access key back; --force does it and says so', async () => {
      const sandbox = hive.clone()
      try {
        expect((await sandbox.run(['delete-client', '1', '--yes', '-q'])).code).to.equal(0)
        const before = sandbox.digest()
        const refused = await sandbox.run(['import-clients', upstreamFile, '-q'])
        expectCleanFailure(refused, 1, SECRETS)
        expect(refused.stderr).to.equal(
          '  conflict: client 1: the stored client "kitchen" is revoked; importing would give it its access key back\n' +
            'Error: 1 conflicting client(s); nothing was imported\n' +
            "Hint: pass --force to replace the stored clients with the file's, revoked ones included (they can connect again), or remove those records from the file\n",
        )
        expect(sandbox.digest()).to.equal(before)
        const forced = await sandbox.run(['import-clients', upstreamFile, '--force', '-q'])
        expect(forced.code, forced.stderr).to.equal(0)
        expect(forced.stderr).to.equal('Warning: gave 1 revoked client(s) their access key back (--force): 1\n')
        expect((await sandbox.records())[0]).to.deep.equal(EXPECTED[0])
      } finally {
        sandbox.cleanup()
      }
    })

    it('an access key held by another live client is a conflict even with --force', async () => {
      const sandbox = hive.clone()
      try {
        const stolen = path.join(sandbox.root, 'stolen.json')
        writeFileSync(stolen, JSON.stringify({9: {client_id: 9, api_key: 'office-key-0002', name: 'impostor'}}))
        const before = sandbox.digest()
        const result = await sandbox.run(['import-clients', stolen, '--force', '-q'])
        expectCleanFailure(result, 1, SECRETS)
        expect(result.stderr).to.equal(
          '  conflict: client 9: access key already used by client 2\n' +
            'Error: 1 conflicting client(s); nothing was imported\n' +
            'Hint: revoke or re-key the clients holding those access keys first\n',
        )
        expect(sandbox.digest()).to.equal(before)
      } finally {
        sandbox.cleanup()
      }
    })

    it('rejects bad files with one error naming the file, exit 1, no secret shown, data unchanged', async function () {
      this.timeout(120_000)
      const sandbox = hive.clone()
      try {
        const dir = path.join(sandbox.root, 'files')
        mkdirSync(dir)
        const file = (name: string, content: string | Buffer) => {
          const target = path.join(dir, name)
          writeFileSync(target, content)
          return target
        }
        const one = (fields: Record<string, unknown>) => JSON.stringify({9: {client_id: 9, api_key: 'secret-key-in-file', password: 'secret-pw-in-file', ...fields}}, null, 4)
        const masked = await sandbox.run(['list-clients', '--json', '-q'])
        const cases: Array<{path: string; error: string}> = [
          {path: path.join(dir, 'missing.json'), error: `Error: cannot read ${path.join(dir, 'missing.json')}: no such file (ENOENT)`},
          {path: dir, error: `Error: cannot read ${dir}: it is a directory (EISDIR)`},
          {path: file('empty.json', ''), error: `Error: ${path.join(dir, 'empty.json')}: the file is empty`},
          {path: file('truncated.json', '{"1": {"client_id": 1,\n"api_key": "secret-key-in-file"'), error: `Error: ${path.join(dir, 'truncated.json')}: invalid JSON at line 2`},
          {path: file('garbage.bin', Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80])), error: `Error: ${path.join(dir, 'garbage.bin')}: not a clients file`},
          {path: file('numbers.json', '[1, 2]'), error: `Error: ${path.join(dir, 'numbers.json')}: client "#1": expected an object, found a number`},
          {path: file('badkey.json', JSON.stringify({abc: {api_key: 'secret-key-in-file'}})), error: `Error: ${path.join(dir, 'badkey.json')}: client "abc": keys must be client ids`},
          {path: file('negative.json', JSON.stringify({'-1': {client_id: -1, api_key: 'secret-key-in-file'}})), error: `Error: ${path.join(dir, 'negative.json')}: client "-1": keys must be client ids`},
          {path: file('mismatch.json', JSON.stringify({2: {client_id: 3, api_key: 'secret-key-in-file'}})), error: `Error: ${path.join(dir, 'mismatch.json')}: client "2": its client_id is 3, but it is stored under "2"`},
          {path: file('types.json', one({is_admin: 'yes'})), error: `Error: ${path.join(dir, 'types.json')}: client "9": field "is_admin" must be a boolean, found a string`},
          {path: file('masked.json', masked.stdout), error: `Error: ${path.join(dir, 'masked.json')}: client "#1": holds masked secrets`},
          {path: file('nul.json', one({name: 'nul\u0000name'})), error: `Error: ${path.join(dir, 'nul.json')}: client 9: the name must not contain control characters`},
          {path: file('escape.json', one({name: 'red\u001b[31m'})), error: `Error: ${path.join(dir, 'escape.json')}: client 9: the name must not contain control characters`},
          {path: file('huge.json', one({name: 'x'.repeat(10_000)})), error: `Error: ${path.join(dir, 'huge.json')}: client 9: the name is too long (10000 characters; at most 255)`},
          {path: file('twins.json', JSON.stringify({8: {client_id: 8, api_key: 'secret-key-in-file'}, 9: {client_id: 9, api_key: 'secret-key-in-file'}})), error: `Error: ${path.join(dir, 'twins.json')}: client 9: its access key is also the access key of client 8 in the same file`},
          {path: file('negative.csv', 'client_id,name,is_admin,access_key,password,crypto_key\n-1,a,True,secret-key-in-file,secret-pw-in-file,\n'), error: `Error: ${path.join(dir, 'negative.csv')}: line 2: client_id must be a positive integer`},
          {path: file('admin.csv', 'client_id,name,is_admin,access_key,password,crypto_key\n9,a,maybe,secret-key-in-file,secret-pw-in-file,\n'), error: `Error: ${path.join(dir, 'admin.csv')}: line 2: is_admin must be True or False`},
          {path: file('header.csv', 'client_id,name,access_key\n9,a,secret-key-in-file\n'), error: `Error: ${path.join(dir, 'header.csv')}: the first line must be the header client_id,name,is_admin,access_key,password,crypto_key`},
          // csv-parse quotes the field it stopped at; a password must not reach the message (QA).
          {path: file('quote.csv', 'client_id,name,is_admin,access_key,password,crypto_key\n7,x,False,secret-key-in-file,secret-pw-in-file"x,\n'), error: `Error: ${path.join(dir, 'quote.csv')}: invalid CSV: Invalid Opening Quote: a quote is found on field 4 at line 2`},
        ]
        const before = sandbox.digest()
        const results = await pooled(cases.map((item) => () => sandbox.run(['import-clients', item.path, '-q'])))
        for (const [index, result] of results.entries()) {
          const {path: target, error} = cases[index]!
          expectCleanFailure(result, 1, [...SECRETS, 'secret-key-in-file', 'secret-pw-in-file'])
          expect(errorLine(result), path.basename(target)).to.satisfy((line: string | undefined) => line?.startsWith(error), `${errorLine(result)} should start with ${error}`)
          expect(result.stdout).to.equal('')
        }
        // A field of the wrong type says what to do about it.
        expect(results[cases.findIndex((item) => item.path.endsWith('types.json'))]!.stderr).to.contain('Hint: correct that field where the record is kept')
        expect(sandbox.digest()).to.equal(before)
      } finally {
        sandbox.cleanup()
      }
    })

    it('rejects usage errors with exit 2', async () => {
      const results = await Promise.all([
        hive.run(['import-clients']),
        hive.run(['import-clients', upstreamFile, '--no-such-flag']),
        hive.run(['import-clients', upstreamFile, upstreamFile]),
      ])
      for (const result of results) expectCleanFailure(result, 2, SECRETS)
    })
  })

  describe('import-clients checks the file before it opens a store, and --dry-run fails where the import fails', () => {
    const HEADER = 'client_id,name,is_admin,access_key,password,crypto_key'

    interface Refusal {
      /** File name and content. */
      name: string
      content: string
      /** The error after "Error: <file>: ". */
      error: string
    }

    /**
     * Imports each file with and without --dry-run: both must give the same one-line error naming
     * the file and the record, exit 1, print nothing on stdout, show none of `secrets`, and create
     * no database file.
     */
    async function expectRefusedAlike(cases: Refusal[], secrets: string[], hint: RegExp): Promise<void> {
      const fresh = Sandbox.create()
      try {
        const files = cases.map((item) => {
          const file = path.join(fresh.root, item.name)
          writeFileSync(file, item.content)
          return file
        })
        const target = path.join(fresh.root, 's.db')
        const runs = await pooled(
          files.flatMap((file) => [
            () => fresh.run(['import-clients', file, '--dry-run', '--db-path', target, '-q']),
            () => fresh.run(['import-clients', file, '--db-path', target, '-q']),
          ]),
        )
        for (const [index, result] of runs.entries()) {
          const source = files[Math.floor(index / 2)]!
          const what = `${path.basename(source)}${index % 2 === 0 ? ' --dry-run' : ''}`
          expectCleanFailure(result, 1, secrets)
          expect(errorLine(result), what).to.equal(`Error: ${source}: ${cases[Math.floor(index / 2)]!.error}`)
          expect(result.stderr, what).to.match(hint)
          expect(result.stdout, what).to.equal('')
        }
        expect(existsSync(target), 's.db').to.equal(false)
        expect(existsSync(`${target}-wal`), 's.db-wal').to.equal(false)
        expect(existsSync(fresh.dataDir), 'the default data directory').to.equal(false)
      } finally {
        fresh.cleanup()
      }
    }

    it('a record the import would refuse: the same one-line error (file and record) and exit 1 with and without --dry-run; no database file created', async () => {
      await expectRefusedAlike(
        [
          {name: 'b6.csv', content: `${HEADER}\n7,x,False,,secret-pw-in-file,\n`, error: 'client 7: the access key must not be empty'},
          {name: 'dup.csv', content: `${HEADER}\n7,x,False,secret-key-in-file,secret-pw-in-file,\n8,y,False,secret-key-in-file,secret-pw-8,\n`, error: 'client 8: its access key is also the access key of client 7 in the same file'},
        ],
        ['secret-key-in-file', 'secret-pw-in-file', 'secret-pw-8'],
        /\nHint: /,
      )
    })

    it('a record add-client would refuse (an access key with spaces, a crypto key not 16 characters, a password with spaces) is refused the same way', async () => {
      await expectRefusedAlike(
        [
          {name: 'spaces.csv', content: `${HEADER}\n7,x,False,Csv Secret Key,secret-pw-in-file,\n`, error: 'client 7: the access key must not contain spaces or control characters'},
          {name: 'short.csv', content: `${HEADER}\n7,x,False,secret-key-in-file,secret-pw-in-file,short12345\n`, error: 'client 7: the crypto key must be exactly 16 characters (got 10)'},
          {name: 'password.json', content: JSON.stringify({7: {client_id: 7, api_key: 'secret-key-in-file', password: 'secret pw in file'}}), error: 'client 7: the password must not contain spaces or control characters'},
        ],
        ['secret-key-in-file', 'secret-pw-in-file', 'Csv Secret Key', 'short12345', 'secret pw in file'],
        /\nHint: correct that record in the file \(add-client accepts the same values\)/,
      )
    })

    it('a tombstone needs no credentials; a record already in a database file is read as it is, however add-client would judge it', async () => {
      const fresh = Sandbox.create()
      try {
        // What the Python hivemind-core may have stored: nothing checked its keys.
        const legacy = path.join(fresh.root, 'legacy.json')
        writeFileSync(legacy, JSON.stringify({
          1: {client_id: 1, api_key: 'Legacy Key With Spaces', password: 'legacy-password', crypto_key: 'short12345'},
          2: {client_id: 2, api_key: 'revoked', name: 'gone'},
        }))
        const listed = await fresh.run(['list-clients', '--db-backend', 'json', '--db-path', legacy, '--all', '--json', '-q'])
        expect(listed.code, listed.stderr).to.equal(0)
        expect((JSON.parse(listed.stdout) as Client[]).map((record) => record.client_id)).to.deep.equal([1, 2])
        const migrated = await fresh.run(['migrate-db', '--from', 'json', '--from-path', legacy, '--to', 'sqlite', '--to-path', path.join(fresh.root, 'copy.db'), '--json', '-q'])
        expect(migrated.code, migrated.stderr).to.equal(0)
        expect(JSON.parse(migrated.stdout)).to.include({copied: 2, verified: true})
        // As input, the live record is refused (what add-client refuses) and nothing is created.
        const target = path.join(fresh.root, 'imported.db')
        const refused = await fresh.run(['import-clients', legacy, '--db-path', target, '-q'])
        expectCleanFailure(refused, 1, ['Legacy Key With Spaces', 'legacy-password', 'short12345'])
        expect(errorLine(refused)).to.equal(`Error: ${legacy}: client 1: the access key must not contain spaces or control characters`)
        expect(refused.stderr).to.include('Hint: correct that record in the file (add-client accepts the same values); to copy an existing database exactly as it is, use hivemind-core migrate-db\n')
        expect(existsSync(target)).to.equal(false)
        // The tombstone alone imports.
        const tombstone = path.join(fresh.root, 'tombstone.json')
        writeFileSync(tombstone, JSON.stringify({2: {client_id: 2, api_key: 'revoked', name: 'gone'}}))
        const imported = await fresh.run(['import-clients', tombstone, '--db-path', target, '-q'])
        expect(imported.code, imported.stderr).to.equal(0)
        expect(imported.stdout).to.equal('Imported 1 new client(s), replaced 0, 0 already identical, 0 conflict(s).\n')
      } finally {
        fresh.cleanup()
      }
    })

    it('--dry-run with a conflict reports it and exits 1 as the import does, writing nothing', async () => {
      const sandbox = hive.clone()
      try {
        const changed = path.join(sandbox.root, 'changed.json')
        writeFileSync(changed, JSON.stringify({...UPSTREAM, 1: {...UPSTREAM[1], name: 'renamed'}}))
        const before = sandbox.digest()
        const [dry, real] = [await sandbox.run(['import-clients', changed, '--dry-run', '-q']), await sandbox.run(['import-clients', changed, '-q'])]
        for (const result of [dry, real]) {
          expectCleanFailure(result, 1, SECRETS)
          expect(result.stdout).to.equal('')
        }
        expect(dry.stderr).to.equal(
          '  conflict: client 1: differs from the stored client "kitchen"\n' +
            'Error: 1 conflicting client(s); nothing would be imported\n' +
            "Hint: pass --force to replace the stored clients with the file's\n",
        )
        expect(real.stderr).to.equal(dry.stderr.replace('nothing would be imported', 'nothing was imported'))
        expect(sandbox.digest()).to.equal(before)
      } finally {
        sandbox.cleanup()
      }
    })
  })

  describe('export-clients', () => {
    it('writes the upstream CSV (live clients only) to stdout', async () => {
      const result = await hive.run(['export-clients'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(CSV)
      expect(result.stderr).to.equal(`${hive.databaseLine}\n`)
    })

    it('export-clients > file: a world-readable file the shell created is made 0600 before the secrets go in; a pipe is left alone (QA)', () => {
      const file = path.join(hive.home, 'redirected.csv')
      const fd = openSync(file, 'w')
      fchmodSync(fd, 0o644)
      try {
        const result = spawnSync(process.execPath, [BIN, 'export-clients', '-q'], {cwd: hive.home, env: hive.env, stdio: ['ignore', fd, 'pipe'], encoding: 'utf8'})
        expect(result.status, result.stderr).to.equal(0)
        expect(result.stderr).to.equal('Note: stdout is a file other users could read (mode 0644); it was made 0600, since the export holds secrets\n')
      } finally {
        closeSync(fd)
      }
      expect(modeOf(statSync(file).mode)).to.equal('600')
      expect(readFileSync(file, 'utf8')).to.equal(CSV)
    })

    it('export-clients > a file others can read and this user cannot chmod (another owner): nothing is written, exit 1 (QA)', function () {
      // Needs a second user: root running the CLI as nobody through setpriv.
      if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) this.skip()
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hm-shared-'))
      try {
        chmodSync(dir, 0o755)
        const home = path.join(dir, 'home')
        mkdirSync(home)
        chownSync(home, 65_534, 65_534)
        const asNobody = (args: string[], stdout: number | 'pipe') =>
          spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `HOME=${home}`, `PATH=${process.env.PATH}`, process.execPath, BIN, ...args], {cwd: dir, stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8'})
        expect(asNobody(['add-client', '-q'], 'pipe').status).to.equal(0)
        const shared = path.join(dir, 'shared.csv')
        const fd = openSync(shared, 'w')
        fchmodSync(fd, 0o666)
        try {
          const result = asNobody(['export-clients', '-q'], fd)
          expect(result.status, result.stderr).to.equal(1)
          expect(result.stderr).to.equal('Error: stdout is a file other users can read (mode 0666) and it could not be made 0600 (EPERM); nothing was written, since the export holds secrets\nHint: use --path FILE, which writes the export 0600, or redirect into a file of your own\n')
        } finally {
          closeSync(fd)
        }
        expect(readFileSync(shared, 'utf8')).to.equal('')
      } finally {
        rmSync(dir, {recursive: true, force: true})
      }
    })

    it('--json without --path is a usage error (exit 2): the summary would replace the export, leaving it nowhere', async () => {
      for (const args of [['export-clients', '--json'], ['export-clients', '--format', 'json', '--json']]) {
        const result = await hive.run([...args, '-q'])
        expectCleanFailure(result, 2)
        expect(JSON.parse(result.stdout)).to.deep.equal({
          error: {
            code: 'USAGE',
            message: '--json prints a summary of the export instead of the export, so it needs --path to write the export to',
            suggestion: 'add --path FILE, or leave out --json to print the export itself (--format json for JSON)',
          },
        })
      }
    })

    it('--format json writes the upstream clients.json shape: keyed by id, 4-space indent, non-ASCII as is, tombstones kept', async () => {
      const result = await hive.run(['export-clients', '--format', 'json', '-q'])
      expect(result.code, result.stderr).to.equal(0)
      expect(result.stdout).to.equal(upstreamText(EXPECTED))
      expect(result.stdout).to.include('"name": "Büro 東京 🖥"')
    })

    it('--format json → import-clients into a fresh home round-trips every record exactly', async () => {
      const fresh = Sandbox.create()
      try {
        const exported = path.join(hive.root, 'export-roundtrip.json')
        const written = await hive.run(['export-clients', '--format', 'json', '--path', exported, '-q'])
        expect(written.code, written.stderr).to.equal(0)
        const imported = await fresh.run(['import-clients', exported, '-q'])
        expect(imported.code, imported.stderr).to.equal(0)
        expect(imported.stdout).to.equal('Imported 4 new client(s), replaced 0, 0 already identical, 0 conflict(s).\n')
        const [original, copy] = await Promise.all([hive.records(), fresh.records()])
        expect(copy).to.deep.equal(original)
        expect(copy).to.deep.equal(EXPECTED)
      } finally {
        fresh.cleanup()
      }
    })

    it('the CSV imports into a fresh home: its columns kept, everything else default', async () => {
      const fresh = Sandbox.create()
      try {
        const csv = path.join(fresh.root, 'hive.csv')
        writeFileSync(csv, CSV)
        const imported = await fresh.run(['import-clients', csv, '-q'])
        expect(imported.code, imported.stderr).to.equal(0)
        expect(imported.stdout).to.equal('Imported 3 new client(s), replaced 0, 0 already identical, 0 conflict(s).\n')
        expect(await fresh.records()).to.deep.equal(
          EXPECTED.filter((record) => record.api_key !== 'revoked').map((record) =>
            client({client_id: record.client_id, name: record.name, is_admin: record.is_admin, api_key: record.api_key, password: record.password, crypto_key: record.crypto_key}),
          ),
        )
      } finally {
        fresh.cleanup()
      }
    })

    it('CSV export → import into the same database is all identical, also for an empty password or crypto key (JSON still tells "" from null)', async () => {
      const fresh = Sandbox.create()
      try {
        const source = path.join(fresh.root, 'upstream.json')
        writeFileSync(source, JSON.stringify({
          4: {client_id: 4, api_key: 'empty-crypto-key-4', password: 'password-4', crypto_key: ''},
          5: {client_id: 5, api_key: 'empty-secrets-5', password: '', crypto_key: ''},
          6: {client_id: 6, api_key: 'null-secrets-6', password: null, crypto_key: null},
        }))
        const db = path.join(fresh.root, 'x.db')
        const csv = path.join(fresh.root, 'x.csv')
        expect((await fresh.run(['import-clients', source, '--db-path', db, '-q'])).code).to.equal(0)
        expect((await fresh.run(['export-clients', '--db-path', db, '--path', csv, '-q'])).code).to.equal(0)
        const before = fresh.digest(db)
        const again = await fresh.run(['import-clients', csv, '--db-path', db, '-q'])
        expect(again.code, again.stderr).to.equal(0)
        expect(again.stdout).to.equal('Imported 0 new client(s), replaced 0, 3 already identical, 0 conflict(s).\n')
        const forced = await fresh.run(['import-clients', csv, '--db-path', db, '--force', '-q'])
        expect(forced.stdout).to.equal('Imported 0 new client(s), replaced 0, 3 already identical, 0 conflict(s).\n')
        expect(fresh.digest(db)).to.equal(before)
        // A JSON file says which one it means: null where "" is stored is a difference.
        const nulls = path.join(fresh.root, 'nulls.json')
        writeFileSync(nulls, JSON.stringify({5: {client_id: 5, api_key: 'empty-secrets-5', password: null, crypto_key: null}}))
        const differs = await fresh.run(['import-clients', nulls, '--db-path', db, '-q'])
        expectCleanFailure(differs, 1, ['empty-crypto-key-4', 'password-4', 'empty-secrets-5', 'null-secrets-6'])
        expect(differs.stderr).to.include('  conflict: client 5: differs from the stored client\n')
        expect(fresh.digest(db)).to.equal(before)
      } finally {
        fresh.cleanup()
      }
    })

    it('--path writes files 0600 under umask 022 (a directory gets the upstream file name; an existing 0644 file replaced with --force ends 0600)', async () => {
      const out = path.join(hive.root, 'exports')
      mkdirSync(out)
      const existing = path.join(out, 'existing.csv')
      writeFileSync(existing, 'old\n')
      chmodSync(existing, 0o644)
      const [file, dir, dirJson, over, json] = await Promise.all([
        hive.run(['export-clients', '--path', path.join(out, 'plain.csv')], {umask: 0o022}),
        hive.run(['export-clients', '--path', `${out}/`, '-q'], {umask: 0o022}),
        hive.run(['export-clients', '--path', out, '--format', 'json', '-q'], {umask: 0o022}),
        hive.run(['export-clients', '--path', existing, '--force', '-q'], {umask: 0o022}),
        hive.run(['export-clients', '--path', path.join(out, 'j.csv'), '--json', '-q'], {umask: 0o022}),
      ])
      for (const result of [file, dir, dirJson, over, json]) expect(result.code, result.stderr).to.equal(0)
      expect(file.stdout).to.equal(`Exported 3 client(s) to ${path.join(out, 'plain.csv')} (csv, mode 0600). It holds secrets: keep it safe.\n`)
      expect(file.stderr).to.equal(`${hive.databaseLine}\n`)
      expect(dir.stdout).to.equal(`Exported 3 client(s) to ${path.join(out, 'hivemind_clients.csv')} (csv, mode 0600). It holds secrets: keep it safe.\n`)
      expect(dirJson.stdout).to.equal(`Exported 4 client(s) to ${path.join(out, 'clients.json')} (json, mode 0600). It holds secrets: keep it safe.\n`)
      expect(JSON.parse(json.stdout)).to.deep.equal({format: 'csv', path: path.join(out, 'j.csv'), count: 3})
      for (const name of ['plain.csv', 'hivemind_clients.csv', 'existing.csv', 'j.csv']) {
        expect(readFileSync(path.join(out, name), 'utf8'), name).to.equal(CSV)
        expect(modeOf(statSync(path.join(out, name)).mode), name).to.equal('600')
      }
      expect(readFileSync(path.join(out, 'clients.json'), 'utf8')).to.equal(upstreamText(EXPECTED))
      expect(modeOf(statSync(path.join(out, 'clients.json')).mode)).to.equal('600')
    })

    it('never writes over an existing file without --force, nor ever over the database itself', async () => {
      const existing = path.join(hive.root, 'keep.csv')
      writeFileSync(existing, 'precious\n')
      const kept = await hive.run(['export-clients', '--path', existing, '-q'])
      expectCleanFailure(kept, 1, SECRETS)
      expect(errorLine(kept)).to.equal(`Error: ${existing} already exists`)
      expect(readFileSync(existing, 'utf8')).to.equal('precious\n')

      const before = hive.digest()
      // --force does not extend to the database (nor the files SQLite keeps beside it), through any path to it.
      const link = path.join(hive.root, 'link-to-db')
      symlinkSync(hive.dbPath, link)
      for (const target of [hive.dbPath, link, `${hive.dbPath}-wal`]) {
        const result = await hive.run(['export-clients', '--path', target, '--force', '-q'])
        expectCleanFailure(result, 1, SECRETS)
        expect(errorLine(result), target).to.match(/^Error: \S+ (is the database itself|belongs to the database) /)
      }
      const backup = await hive.run(['backup-db', '--out', hive.dbPath, '--force', '-q'])
      expectCleanFailure(backup, 1, SECRETS)
      expect(errorLine(backup)).to.equal(`Error: ${hive.dbPath} is the database itself (${hive.dbPath}): writing there would destroy it`)
      expect(hive.digest()).to.equal(before)
      expect((await hive.run(['list-clients', '-q'])).code).to.equal(0)

      // A JSON hive exported onto its own file.
      const jsonHive = path.join(hive.root, 'hive.json')
      expect((await hive.run(['import-clients', upstreamFile, '--db-backend', 'json', '--db-path', jsonHive, '-q'])).code).to.equal(0)
      const jsonBefore = readFileSync(jsonHive, 'utf8')
      const ontoItself = await hive.run(['export-clients', '--db-backend', 'json', '--db-path', jsonHive, '--format', 'json', '--path', jsonHive, '--force', '-q'])
      expectCleanFailure(ontoItself, 1, SECRETS)
      expect(readFileSync(jsonHive, 'utf8')).to.equal(jsonBefore)
    })

    it('an unwritable --path or a bad --format fails cleanly and writes nothing', async () => {
      const nowhere = path.join(hive.root, 'no', 'such', 'dir', 'out.csv')
      const [missingDir, badFormat, stray] = await Promise.all([
        hive.run(['export-clients', '--path', nowhere, '-q']),
        hive.run(['export-clients', '--format', 'xml', '-q']),
        hive.run(['export-clients', 'extra', '-q']),
      ])
      expectCleanFailure(missingDir, 1, SECRETS)
      expect(errorLine(missingDir)).to.equal(`Error: cannot write ${nowhere} (ENOENT)`)
      expect(existsSync(path.dirname(nowhere))).to.equal(false)
      expectCleanFailure(badFormat, 2, SECRETS)
      expect(badFormat.stderr).to.include('Expected --format=xml to be one of: csv, json')
      expectCleanFailure(stray, 2, SECRETS)
    })
  })
})
