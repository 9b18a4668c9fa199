import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import {readAuditFile} from '../../src/audit/trail.js'

describe('audit trail: reading a file', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hm-trail-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  const entry = (time: string, event: string, clientId: number) => JSON.stringify({time, event, client_id: clientId, user: 'u', host: 'h', pid: 1, command: 'add-client'})

  it('keeps only the entries that match, counts every valid one and every line that is not an entry (a trail is read a line at a time, never whole)', async () => {
    const file = path.join(dir, 'audit.log')
    const lines = [
      entry('2026-01-01T00:00:00.000Z', 'add', 1),
      'not json',
      entry('2026-06-01T00:00:00.000Z', 'revoke', 1),
      '{"no": "time"}',
      '',
      entry('2026-06-02T00:00:00.000Z', 'add', 2),
    ]
    // A CRLF line end (a trail copied through Windows) is one line end.
    writeFileSync(file, lines.join('\n').replace('not json\n', 'not json\r\n') + '\n')
    const all = await readAuditFile(file)
    expect(all.entries.map((read) => [read.event, read.client_id])).to.deep.equal([['add', 1], ['revoke', 1], ['add', 2]])
    expect({total: all.total, invalid: all.invalid}).to.deep.equal({total: 3, invalid: 2})
    const filtered = await readAuditFile(file, {since: new Date('2026-05-01T00:00:00Z'), client: '1'})
    expect(filtered.entries.map((read) => [read.event, read.client_id])).to.deep.equal([['revoke', 1]])
    expect(filtered.total).to.equal(3)
    expect(await readAuditFile(path.join(dir, 'missing.log'))).to.deep.equal({entries: [], total: 0, invalid: 0})
  })

  it('a trail that cannot be read is one clear error naming it', async () => {
    try {
      await readAuditFile(dir)
      expect.fail('a directory was read as a trail')
    } catch (error) {
      expect((error as Error).message).to.equal(`cannot read the audit file ${dir} (EISDIR)`)
    }
  })
})
