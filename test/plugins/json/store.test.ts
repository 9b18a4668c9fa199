import {spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import {buildClient, DEFAULT_ALLOWED_TYPES} from '../../../src/core/client.js'
import type {ClientStore} from '../../../src/core/store.js'
import {jsonBackend} from '../../../src/plugins/json/index.js'
import {runStoreConformance} from '../../../src/testing/index.js'
import type {JsonOptions} from '../../../src/plugins/json/options.js'
import {barrierAdd, type ChildStoreSpec, startLoopingWriter} from '../../helpers/children.js'
import {failure} from '../../helpers/failure.js'
import {createSandbox} from '../../helpers/sandbox.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/upstream-clients.json')
const context = {paths: {home: '', dataDir: '', configDir: '', stateDir: ''}, mode: 'write' as const, warn() {}}

function jsonOptions(file: string, overrides: Partial<JsonOptions> = {}): JsonOptions {
  return {path: file, lockStaleMs: 2000, lockWaitMs: 30_000, ...overrides}
}

async function openJson(file: string, overrides: Partial<JsonOptions> = {}): Promise<ClientStore> {
  const store = await jsonBackend.create(jsonOptions(file, overrides), context)
  await store.open()
  return store
}

function digest(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

runStoreConformance(
  'json',
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hm-json-suite-'))
    const store = await jsonBackend.create(jsonOptions(path.join(dir, 'clients.json')), context)
    return {store, cleanup: async () => rmSync(dir, {recursive: true, force: true})}
  },
  {reopen: async (closed) => jsonBackend.create(jsonOptions(closed.location), context), another: async (open) => jsonBackend.create(jsonOptions(open.location), context)},
)

describe('json backend', () => {
  let dir: string
  let file: string

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hm-json-'))
    file = path.join(dir, 'data', 'clients.json')
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  describe('the upstream file format', () => {
    it('writes an object keyed by string id, snake_case, 4-space indent, non-ASCII as-is', async () => {
      const store = await openJson(file)
      await store.add({api_key: 'k1', name: 'Küche 🐝', password: 'p'})
      await store.close()
      const text = readFileSync(file, 'utf8')
      expect(text).to.equal(`{
    "1": {
        "client_id": 1,
        "api_key": "k1",
        "name": "Küche 🐝",
        "description": "",
        "is_admin": false,
        "last_seen": -1,
        "intent_blacklist": [],
        "skill_blacklist": [],
        "message_blacklist": [],
        "allowed_types": [
${DEFAULT_ALLOWED_TYPES.map((type) => `            "${type}"`).join(',\n')}
        ],
        "crypto_key": null,
        "password": "p",
        "can_broadcast": true,
        "can_escalate": true,
        "can_propagate": true,
        "metadata": {}
    }
}
`)
    })

    it('writes a hive of many records (stringified a group at a time) exactly as one JSON.stringify of the whole object', async () => {
      const store = await openJson(file)
      const records = Array.from({length: 150}, (_, index) => {
        const record = buildClient(index + 1, {api_key: `key-${index}`, name: index % 2 ? `Küche ${index} 🐝` : '', description: 'line one\nline "two"', metadata: index % 3 ? {} : {nested: {list: [1, {deep: null}]}, 'ü': 'x'}})
        return index % 7 === 0 ? {...record, api_key: 'revoked', password: null} : record
      })
      await store.putMany!(records)
      const expected: Record<string, unknown> = {}
      for await (const record of store.list({includeRevoked: true})) expected[String(record.client_id)] = record
      expect(Object.keys(expected)).to.have.length(150)
      expect(readFileSync(file, 'utf8')).to.equal(`${JSON.stringify(expected, null, 4)}\n`)
      await store.clear!()
      expect(readFileSync(file, 'utf8')).to.equal('{}\n')
      await store.close()
    })

    it('reads a file written by the Python hivemind-core: no metadata, extra keys folded into metadata', async () => {
      mkdirSync(path.dirname(file), {recursive: true})
      writeFileSync(file, JSON.stringify({
        '1': {client_id: 1, api_key: 'abc', name: 'old', description: '', is_admin: true, last_seen: 1_700_000_000.5, intent_blacklist: [], skill_blacklist: ['s'], message_blacklist: [], allowed_types: ['speak'], crypto_key: '0123456789abcdef', password: 'pw', can_broadcast: false, can_escalate: true, can_propagate: true, legacy_flag: 7},
        '3': {client_id: 3, api_key: 'revoked', name: 'gone', is_admin: false},
      }, null, 4))
      const store = await openJson(file)
      const first = await store.getByApiKey('abc')
      expect(first).to.deep.include({client_id: 1, name: 'old', is_admin: true, last_seen: 1_700_000_000.5, can_broadcast: false, crypto_key: '0123456789abcdef'})
      expect(first!.metadata).to.deep.equal({legacy_flag: 7})
      expect(first!.allowed_types).to.deep.equal(['speak'])
      expect(await store.count()).to.equal(1)
      expect(await store.count({includeRevoked: true})).to.equal(2)
      // The next id is past the tombstone: ids are never reused.
      expect((await store.add({api_key: 'new'})).client_id).to.equal(4)
      await store.close()
    })

    it('reads the committed upstream fixture field for field (unicode, tombstone, admin, no metadata, extra key)', async () => {
      mkdirSync(path.dirname(file), {recursive: true})
      copyFileSync(FIXTURE, file)
      const store = await openJson(file)
      const records = []
      for await (const record of store.list({includeRevoked: true})) records.push(record)
      // Nothing was written by reading.
      expect(readFileSync(file)).to.deep.equal(readFileSync(FIXTURE))
      const raw = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, Record<string, unknown>>
      expect(records.map((record) => record.client_id)).to.deep.equal([1, 2, 3, 4])
      for (const record of records.slice(0, 3)) {
        const source = raw[String(record.client_id)]!
        const {metadata, ...rest} = record
        const {metadata: sourceMetadata, satellite_version: extra, ...sourceRest} = source
        expect(rest).to.deep.equal(sourceRest)
        expect(metadata).to.deep.equal({...(sourceMetadata as object | undefined), ...(extra === undefined ? {} : {satellite_version: extra})})
      }
      // "4" is the Python hivemind-core's tombstone {"client_id": -1, "api_key": "revoked"}: a
      // tombstone with the id of the key it is stored under, every other field default.
      expect(records[3]).to.deep.equal(buildClient(4, {api_key: 'revoked'}))
      // Its id counts: the next client gets 5.
      expect((await store.add({api_key: 'after-the-tombstone'})).client_id).to.equal(5)
      await store.close()
    })

    it('the CLI lists, imports and migrates the upstream fixture with its Python tombstone', async () => {
      mkdirSync(path.dirname(file), {recursive: true})
      copyFileSync(FIXTURE, file)
      const sandbox = createSandbox()
      try {
        const listed = await sandbox.run(['list-clients', '--db-backend', 'json', '--db-path', file, '--all', '--json', '-q'])
        expect(listed.code, listed.stderr).to.equal(0)
        // Secrets are masked here; a tombstone's key is the literal "revoked".
        expect((JSON.parse(listed.stdout) as Array<{client_id: number; api_key: string}>).map((record) => [record.client_id, record.api_key === 'revoked'])).to.deep.equal([
          [1, false], [2, true], [3, false], [4, true],
        ])
        const target = path.join(dir, 'imported.db')
        const imported = await sandbox.run(['import-clients', file, '--db-path', target, '-q'])
        expect(imported.code, imported.stderr).to.equal(0)
        expect(imported.stdout).to.equal('Imported 4 new client(s), replaced 0, 0 already identical, 0 conflict(s).\n')
        const migrated = await sandbox.run(['migrate-db', '--from', 'json', '--from-path', file, '--to', 'sqlite', '--to-path', path.join(dir, 'migrated.db'), '--json', '-q'])
        expect(migrated.code, migrated.stderr).to.equal(0)
        expect(JSON.parse(migrated.stdout)).to.include({copied: 4, verified: true})
        // Reading never rewrote the file.
        expect(readFileSync(file)).to.deep.equal(readFileSync(FIXTURE))
      } finally {
        sandbox.cleanup()
      }
    })

    it('a client_id of -1 stays an error outside that tombstone form, and the message shows the value', async () => {
      mkdirSync(path.dirname(file), {recursive: true})
      for (const [document, expected] of [
        [{1: {client_id: -1, api_key: 'live-key'}}, 'client "1": field "client_id" must be a positive integer, found -1'],
        [{1: {client_id: 0, api_key: 'revoked'}}, 'client "1": field "client_id" must be a positive integer, found 0'],
      ] as const) {
        writeFileSync(file, JSON.stringify(document))
        const before = digest(file)
        const error = await failure(openJson(file))
        expect(error.message).to.equal(`${file}: ${expected}`)
        expect(digest(file)).to.equal(before)
      }
    })

    it('an id past 2^53 is "too large", not a rounded number the file does not hold', async () => {
      mkdirSync(path.dirname(file), {recursive: true})
      writeFileSync(file, '{"9007199254740993": {"client_id": 9007199254740993, "api_key": "k"}}')
      const error = await failure(openJson(file))
      expect(error.message).to.equal(`${file}: client "9007199254740993": field "client_id" is too large (at most 9007199254740991)`)
    })
  })

  describe('a corrupt file (R9) is an error with path and position, and is never rewritten', () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['empty', Buffer.alloc(0), /the file is empty/],
      ['truncated', Buffer.from('{"1": {"client_id": 1, "api_key": "a'), /invalid JSON at line 1, column \d+/],
      ['invalid UTF-8', Buffer.concat([Buffer.from('{"1": {"name": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), /invalid UTF-8 at byte 16/],
      // --db-backend json --db-path clients.db: said as what it is (QA: "invalid UTF-8 at byte 98").
      ['an SQLite database', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.from([0x10, 0x00, 0x02, 0x02, 0xff, 0xfe]), Buffer.alloc(90)]), /is an SQLite database, not a clients\.json/],
      ['an array', Buffer.from('[{"client_id": 1}]'), /expected an object of clients keyed by id, found a list/],
      ['wrong types', Buffer.from('{"1": {"client_id": 1, "api_key": 5}}'), /client "1": field "api_key" must be a string/],
      ['a non-numeric key', Buffer.from('{"x": {"api_key": "a"}}'), /keys must be client ids/],
      // Hand edits: the parser's own message quoted the text around the error (a password here).
      ["single quotes (Python's repr)", Buffer.from(`{\n "1": {\n  "client_id": 1,\n  "api_key": "key-1",\n  "password": 'Secret-Password-01'\n }\n}\n`), /: invalid JSON at line 5, column 15: unexpected character$/m],
      ['a password alone', Buffer.from('Secret-Password-01'), /: invalid JSON at line 1, column 1: unexpected character$/m],
      ["Python's True", Buffer.from('{"1": {"client_id": 1, "api_key": "key-1", "is_admin": True}}'), /: invalid JSON at line 1, column 56: unexpected character$/m],
      // JSON.parse keeps the last of two equal names: the first client would be lost at the next write.
      ['a client pasted twice under one id', Buffer.from('{\n    "1": {"client_id": 1, "api_key": "kitchen-key", "name": "kitchen"},\n    "1": {"client_id": 1, "api_key": "bath-key", "name": "bath"}\n}\n'), /: client "1" appears twice \(the second at line 3, column 5\); JSON keeps only the last of them/],
      ['an access key given twice in one client', Buffer.from('{"1": {"client_id": 1, "api_key": "kitchen-key", "name": "kitchen", "api_key": "other-key"}}'), /: client "1": field "api_key" appears twice \(the second at line 1, column 69\)/],
    ]
    for (const [what, bytes, pattern] of cases) {
      it(`${what}: store and CLI refuse, bytes unchanged`, async () => {
        mkdirSync(path.dirname(file), {recursive: true})
        writeFileSync(file, bytes)
        const before = digest(file)
        const error = await failure(openJson(file))
        expect(error.message).to.contain(file).and.to.match(pattern)
        const sandbox = createSandbox()
        try {
          for (const args of [['list-clients'], ['add-client', '--name', 'x']]) {
            const result = await sandbox.run([...args, '--db-backend', 'json', '--db-path', file])
            expect(result.code, result.stderr).to.equal(1)
            expect(result.stderr).to.contain(file).and.to.match(pattern)
            expect(result.stderr).not.to.contain('    at ')
            expect(result.stderr).not.to.contain('Secret-Pa').and.not.to.contain('key-1')
          }
        } finally {
          sandbox.cleanup()
        }
        expect(digest(file)).to.equal(before)
      })
    }
  })

  describe('lookups', () => {
    it('see a change made by another process at once (stat-revalidated index)', async () => {
      const reader = await openJson(file)
      const writer = await openJson(file)
      await writer.add({api_key: 'first'})
      expect(await reader.getByApiKey('first')).to.include({client_id: 1})
      const revision = await reader.revision()
      await writer.update(1, {api_key: 'second'})
      expect(await reader.revision()).not.to.equal(revision)
      expect(await reader.getByApiKey('first')).to.equal(undefined)
      expect(await reader.getByApiKey('second')).to.include({client_id: 1})
      await writer.revoke(1)
      expect(await reader.getByApiKey('second')).to.equal(undefined)
      await reader.close()
      await writer.close()
    })
  })

  describe('files', () => {
    it('are 0600 in a 0700 directory under umask 022 (R14), and a looser existing file is tightened', async () => {
      const previous = process.umask(0o022)
      try {
        const store = await openJson(file)
        await store.add({api_key: 'k'})
        await store.close()
        expect(statSync(file).mode & 0o777).to.equal(0o600)
        expect(statSync(path.dirname(file)).mode & 0o777).to.equal(0o700)
        chmodSync(file, 0o644)
        const again = await openJson(file)
        await again.close()
        expect(statSync(file).mode & 0o777).to.equal(0o600)
      } finally {
        process.umask(previous)
      }
    })

    it('a file its owner made read-only (0444, 0400) stays so: opening only drops group and other, a write is refused and changes nothing', async () => {
      const store = await openJson(file)
      await store.add({api_key: 'k'})
      await store.close()
      for (const mode of [0o444, 0o400]) {
        chmodSync(file, mode)
        const before = digest(file)
        const again = await openJson(file)
        try {
          expect(statSync(file).mode & 0o777).to.equal(0o400)
          const error = await again.add({api_key: `more-${mode}`}).then(() => undefined, (error_: unknown) => error_ as Error & {code?: string})
          expect(error?.code).to.equal('STORE_READ_ONLY')
          expect(error?.message).to.equal(`${file} is read-only (mode 0400); nothing was changed`)
        } finally {
          await again.close()
        }
        expect(digest(file)).to.equal(before)
        expect(statSync(file).mode & 0o777).to.equal(0o400)
      }
    })
  })

  describe('concurrent writers', () => {
    const spec = (target: string): ChildStoreSpec => ({module: 'plugins/json/index.ts', descriptorExport: 'jsonBackend', options: jsonOptions(target)})

    it('R1: 20 barrier-started writers lose nothing', async function () {
      this.timeout(120_000)
      const results = await barrierAdd(dir, spec(file), 20)
      for (const result of results) expect(result.code, result.stderr).to.equal(0)
      const ids = results.map((result) => Number(result.stdout.trim()))
      expect(new Set(ids).size).to.equal(20)
      const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, {name: string}>
      expect(Object.keys(stored)).to.have.length(20)
      expect(Object.values(stored).map((record) => record.name).sort()).to.deep.equal(Array.from({length: 20}, (_, index) => `child-${index}`).sort())
    })

    it('R1 through the CLI: 20 add-client processes at once, 20 stored, all exit 0', async function () {
      this.timeout(120_000)
      const sandbox = createSandbox()
      try {
        const results = await Promise.all(Array.from({length: 20}, (_, index) => sandbox.run(['add-client', '--name', `cli-${index}`, '--db-backend', 'json', '--db-path', file, '--json', '--quiet'])))
        for (const result of results) expect(result.code, result.stderr).to.equal(0)
        const ids = results.map((result) => (JSON.parse(result.stdout) as {client_id: number}).client_id)
        expect(new Set(ids).size).to.equal(20)
        expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object)).to.have.length(20)
      } finally {
        sandbox.cleanup()
      }
    })

    it('writers through a symbolic link and through the file itself share one lock: 20 add-client processes, 20 stored, distinct ids', async function () {
      this.timeout(120_000)
      const sandbox = createSandbox()
      try {
        const linkDir = path.join(dir, 'elsewhere')
        mkdirSync(linkDir)
        const link = path.join(linkDir, 'hive.json')
        symlinkSync(file, link)
        mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
        writeFileSync(file, '{}\n', {mode: 0o600})
        const results = await Promise.all(Array.from({length: 20}, (_, index) =>
          sandbox.run(['add-client', '--name', `cli-${index}`, '--db-backend', 'json', '--db-path', index % 2 === 0 ? link : file, '--json', '--quiet'])))
        for (const result of results) expect(result.code, result.stderr).to.equal(0)
        const ids = results.map((result) => (JSON.parse(result.stdout) as {client_id: number}).client_id)
        expect(new Set(ids).size).to.equal(20)
        expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')) as object)).to.have.length(20)
        expect(lstatSync(link).isSymbolicLink()).to.equal(true)
      } finally {
        sandbox.cleanup()
      }
    })

    it('a write through a dangling symbolic link creates its target and keeps the link', async () => {
      const target = path.join(dir, 'target.json')
      const link = path.join(dir, 'link.json')
      symlinkSync('target.json', link)
      const store = await openJson(link)
      await store.add({api_key: 'through-the-link'})
      await store.close()
      expect(lstatSync(link).isSymbolicLink()).to.equal(true)
      expect(Object.values(JSON.parse(readFileSync(target, 'utf8')) as Record<string, {api_key: string}>).map((record) => record.api_key)).to.deep.equal(['through-the-link'])
      expect(statSync(target).mode & 0o777).to.equal(0o600)
    })

    it('R4: kill -9 during writes, 60 times: the file always parses, every acknowledged client is there, temp files are swept', async function () {
      this.timeout(600_000)
      const acknowledged = new Map<number, string>()
      for (let round = 0; round < 60; round++) {
        const {child, done} = startLoopingWriter(dir, spec(file), `r${round}`)
        // Kill at a random point after the writer got going (its first acknowledged write).
        await new Promise<void>((resolve) => {
          const onData = () => {
            child.stdout!.off('data', onData)
            setTimeout(resolve, Math.random() * 40)
          }
          child.stdout!.on('data', onData)
          child.on('close', () => resolve())
        })
        child.kill('SIGKILL')
        const result = await done
        expect(result.signal, result.stderr).to.equal('SIGKILL')
        for (const line of result.stdout.split('\n')) {
          const match = /^(\d+):(.+)$/.exec(line)
          if (match) acknowledged.set(Number(match[1]), match[2]!)
        }
        const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, {name: string}>
        for (const [id, name] of acknowledged) expect(stored[String(id)]?.name, `round ${round}: client ${id}`).to.equal(name)
      }
      expect(acknowledged.size).to.be.greaterThan(60)
      // The next writer takes over any stale lock and sweeps the temp files killed writers left.
      const store = await openJson(file)
      await store.add({api_key: 'after'})
      await store.close()
      const leftovers = readdirSync(path.dirname(file)).filter((entry) => entry !== 'clients.json')
      expect(leftovers).to.deep.equal([])
      expect(existsSync(`${file}.lock`)).to.equal(false)
    })
  })

  describe('temp files a killed writer left', () => {
    const listDir = () => readdirSync(path.dirname(file)).sort()

    it("people's own copies named clients.json.<digits> survive every write", async () => {
      const store = await openJson(file)
      await store.add({api_key: 'first'})
      for (const copy of ['clients.json.20250101', 'clients.json.1', 'clients.json.bak']) copyFileSync(file, path.join(path.dirname(file), copy))
      await store.add({api_key: 'second'})
      await store.close()
      expect(listDir()).to.deep.equal(['clients.json', 'clients.json.1', 'clients.json.20250101', 'clients.json.bak'])
    })

    it('the next write removes the temp file the marker names, or an empty one created after a marker that names none; nothing else', async () => {
      const store = await openJson(file)
      await store.add({api_key: 'first'})
      const data = path.dirname(file)
      // A writer killed mid-write: its marker names its half-written temp file.
      writeFileSync(path.join(data, 'clients.json.1234567'), '{"1": {"client_')
      writeFileSync(path.join(data, '.clients.json.writing'), 'clients.json.1234567')
      writeFileSync(path.join(data, 'clients.json.42'), '{}')
      await store.add({api_key: 'second'})
      expect(listDir()).to.deep.equal(['clients.json', 'clients.json.42'])
      // One killed before it named its temp file (still empty); an empty file from before that marker stays.
      writeFileSync(path.join(data, 'clients.json.7'), '')
      await new Promise((resolve) => setTimeout(resolve, 30))
      writeFileSync(path.join(data, '.clients.json.writing'), '')
      writeFileSync(path.join(data, 'clients.json.987654'), '')
      await store.add({api_key: 'third'})
      await store.close()
      expect(listDir()).to.deep.equal(['clients.json', 'clients.json.42', 'clients.json.7'])
    })
  })

  describe('disk trouble (R18)', () => {
    let mountPoint: string

    beforeEach(function () {
      // A tiny tmpfs we can fill up or make read-only (root can write through chmod, not through a ro mount).
      mountPoint = path.join(dir, 'disk')
      mkdirSync(mountPoint)
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint])
      if (mounted.status !== 0) this.skip()
    })

    afterEach(() => {
      spawnSync('umount', [mountPoint])
    })

    const seed = async (target: string) => {
      const store = await openJson(target)
      for (let index = 0; index < 20; index++) await store.add({api_key: `seed-${index}`, name: `seed ${index}`, description: 'd'.repeat(200)})
      await store.close()
    }

    it('disk full: a clear error, the file byte-identical, no temp file left', async () => {
      const target = path.join(mountPoint, 'clients.json')
      await seed(target)
      const before = digest(target)
      // Fill what is left so the next (larger) file cannot be written.
      spawnSync('dd', ['if=/dev/zero', `of=${path.join(mountPoint, 'filler')}`, 'bs=1k', 'count=1024'])
      const store = await openJson(target)
      const error = await failure(store.add({api_key: 'one-too-many', description: 'x'.repeat(200)}))
      await store.close()
      expect(error.message).to.contain('the disk is full').and.to.contain(target)
      expect(digest(target)).to.equal(before)
      expect(readdirSync(mountPoint).sort()).to.deep.equal(['clients.json', 'filler'])
    })

    it('read-only filesystem: a clear error, the file byte-identical, no temp file left', async () => {
      const target = path.join(mountPoint, 'clients.json')
      await seed(target)
      const before = digest(target)
      expect(spawnSync('mount', ['-o', 'remount,ro', mountPoint]).status).to.equal(0)
      const sandbox = createSandbox()
      try {
        const result = await sandbox.run(['add-client', '--name', 'x', '--db-backend', 'json', '--db-path', target])
        expect(result.code).to.equal(1)
        expect(result.stderr).to.contain(target).and.to.match(/EROFS/)
        expect(result.stderr).not.to.contain('    at ')
      } finally {
        sandbox.cleanup()
      }
      expect(digest(target)).to.equal(before)
      expect(readdirSync(mountPoint)).to.deep.equal(['clients.json'])
    })
  })

  describe('locks', () => {
    it('a lock left by a killed process is taken over after lockStaleMs', async function () {
      this.timeout(30_000)
      mkdirSync(`${file}.lock`, {recursive: true})
      const old = new Date(Date.now() - 60_000)
      const {utimesSync} = await import('node:fs')
      utimesSync(`${file}.lock`, old, old)
      const store = await openJson(file)
      expect((await store.add({api_key: 'k'})).client_id).to.equal(1)
      await store.close()
      expect(existsSync(`${file}.lock`)).to.equal(false)
    })

    it('a live lock held too long is a clear "locked" error, and nothing is written', async function () {
      this.timeout(30_000)
      const holder = await openJson(file)
      await holder.add({api_key: 'k'})
      const before = digest(file)
      const lockfile = (await import('proper-lockfile')).default
      const release = await lockfile.lock(file, {realpath: false, stale: 10_000})
      try {
        const waiter = await openJson(file, {lockWaitMs: 500})
        const error = await failure(waiter.add({api_key: 'other'}))
        expect(error.message).to.contain('is locked by another process')
        await waiter.close()
      } finally {
        await release()
      }
      expect(digest(file)).to.equal(before)
      await holder.close()
    })
  })
})
