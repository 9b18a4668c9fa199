import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {replaceWithText} from '../../src/core/atomic-text-file.js'

describe('replaceWithText', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-atomic-text-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('writes text of many chunks byte for byte, a surrogate pair across a chunk boundary included', async () => {
    // The first write takes 349 525 UTF-16 units (a mebibyte at 3 bytes each): that boundary falls between the first emoji's two halves.
    const filler = 'é'.repeat(349_524)
    const pieces = [`${filler}😀${filler.slice(1)}😀${filler}日本`, '', '\n']
    const file = path.join(dir, 'clients.json')
    await replaceWithText(file, pieces, {mode: 0o600})
    expect(readFileSync(file).equals(Buffer.from(pieces.join(''), 'utf8'))).to.equal(true)
  })

  it('writes many small pieces from a generator across several buffer flushes, in order', async () => {
    const piece = (index: number) => `${index}:${'é😀'.repeat(index % 97)}日本\n`
    function* pieces() {
      for (let index = 0; index < 20_000; index++) yield piece(index)
    }
    const file = path.join(dir, 'export.txt')
    await replaceWithText(file, pieces(), {mode: 0o600})
    const expected = Array.from({length: 20_000}, (_, index) => piece(index)).join('')
    expect(Buffer.byteLength(expected)).to.be.greaterThan(3 * 1024 * 1024)
    expect(readFileSync(file).equals(Buffer.from(expected, 'utf8'))).to.equal(true)
  })

  it('replaces an existing file, with the given mode, and leaves no temp file', async () => {
    const file = path.join(dir, 'clients.json')
    writeFileSync(file, 'old content that is longer than the new one', {mode: 0o644})
    await replaceWithText(file, ['{}', '\n'], {mode: 0o600})
    expect(readFileSync(file, 'utf8')).to.equal('{}\n')
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    expect(readdirSync(dir)).to.deep.equal(['clients.json'])
  })

  it('leaves the old file as it was, and no temp file, when writing the text fails part way', async () => {
    const file = path.join(dir, 'clients.json')
    writeFileSync(file, 'old', {mode: 0o600})
    // The first piece is written, then reading the second fails (as a failing disk write would).
    const pieces = ['x'.repeat(2_000_000)]
    Object.defineProperty(pieces, 1, {get() { throw new Error('disk gone') }, enumerable: true})
    const failure = await replaceWithText(file, pieces, {mode: 0o600}).then(() => undefined, (error: Error) => error)
    expect(failure?.message).to.equal('disk gone')
    expect(readFileSync(file, 'utf8')).to.equal('old')
    expect(readdirSync(dir)).to.deep.equal(['clients.json'])
  })
})
