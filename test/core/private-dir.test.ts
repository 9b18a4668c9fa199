import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Worker} from 'node:worker_threads'

import {ensurePrivateDir} from '../../src/core/private-dir.js'

const modeOf = (dir: string) => statSync(dir).mode & 0o777

describe('ensurePrivateDir', () => {
  let root: string
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'hivemind-private-dir-'))
  })
  afterEach(() => rmSync(root, {recursive: true, force: true}))

  it('makes a missing directory 0700, and its missing parents with the usual mode', () => {
    const dir = path.join(root, 'share', 'hivemind-core')
    ensurePrivateDir(dir)
    expect(modeOf(dir)).to.equal(0o700)
    const umask = process.umask()
    expect(modeOf(path.join(root, 'share'))).to.equal(0o777 & ~umask)
  })

  it("makes every missing ancestor 0700 with 'private', and leaves existing ones alone", () => {
    chmodSync(root, 0o755)
    const dir = path.join(root, 'data', 'hivemind-core', 'backups')
    ensurePrivateDir(dir, 'private')
    for (const made of [dir, path.dirname(dir), path.dirname(path.dirname(dir))]) expect(modeOf(made), made).to.equal(0o700)
    expect(modeOf(root)).to.equal(0o755)
  })

  it('keeps the mode of a directory that exists already', () => {
    const dir = path.join(root, 'shared')
    mkdirSync(dir)
    chmodSync(dir, 0o750)
    ensurePrivateDir(dir)
    ensurePrivateDir(dir, 'private')
    expect(modeOf(dir)).to.equal(0o750)
  })

  it('fails with the system error when a parent is a file', () => {
    writeFileSync(path.join(root, 'file'), '')
    expect(() => ensurePrivateDir(path.join(root, 'file', 'dir'))).to.throw().with.property('code', 'ENOTDIR')
  })

  it('is not an error when other threads create the same directories at the same moment', async function () {
    this.timeout(60_000)
    // Four threads walk the same 300 fresh paths in the same order: they keep finding a directory
    // missing that another thread creates a moment later (checking first, then creating, failed
    // there with EEXIST: twenty add-client processes started at once hit it).
    const threads = 4
    const paths = 300
    const barrier = new Int32Array(new SharedArrayBuffer(4))
    const moduleUrl = new URL('../../src/core/private-dir.ts', import.meta.url).href
    const code = `
      const {workerData, parentPort} = require('node:worker_threads')
      // A worker does not inherit the test run's TypeScript loader.
      import('tsx/esm/api').then(({register}) => register()).then(() => import(workerData.moduleUrl)).then(({ensurePrivateDir}) => {
        Atomics.add(workerData.barrier, 0, 1)
        while (Atomics.load(workerData.barrier, 0) < workerData.threads) {}
        const errors = []
        for (let index = 0; index < workerData.paths; index++) {
          try { ensurePrivateDir(workerData.root + '/' + index + '/a/b/c', index % 2 ? 'private' : 'usual') } catch (error) { errors.push(error.code + ' ' + error.message) }
        }
        parentPort.postMessage(errors)
      }, (error) => parentPort.postMessage(['import failed: ' + error.message]))
    `
    const results = await Promise.all(
      Array.from({length: threads}, () => {
        const worker = new Worker(code, {eval: true, workerData: {moduleUrl, barrier, threads, paths, root}})
        return new Promise<string[]>((resolve, reject) => {
          worker.once('message', (errors: string[]) => {
            void worker.terminate()
            resolve(errors)
          })
          worker.once('error', reject)
        })
      }),
    )
    expect(results.flat()).to.deep.equal([])
    for (let index = 0; index < paths; index++) expect(modeOf(path.join(root, String(index), 'a', 'b', 'c'))).to.equal(0o700)
  })
})
