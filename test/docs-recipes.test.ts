/**
 * Recipes in docs/ that people paste into scripts run here word for word.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import {CLI, type CliSandbox, createSandbox} from './helpers/sandbox.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The shell block between `<!-- name -->` and `<!-- name-end -->` in a doc. */
function recipe(doc: string, name: string): string {
  const text = readFileSync(path.join(root, doc), 'utf8')
  const block = text.slice(text.indexOf(`<!-- ${name} -->`), text.indexOf(`<!-- ${name}-end -->`))
  const code = /```sh\n([\s\S]*?)```/.exec(block)
  if (!code) throw new Error(`no sh block named ${name} in ${doc}`)
  return code[1]!
}

describe('documented recipes', function () {
  this.timeout(120_000)
  let sandbox: CliSandbox

  beforeEach(() => {
    sandbox = createSandbox()
  })

  afterEach(() => sandbox.cleanup())

  it('the CI recipe of docs/migration.md migrates an upstream install, and is safe to run again', () => {
    const dataDir = path.join(sandbox.home, '.local/share/hivemind-core')
    mkdirSync(dataDir, {recursive: true})
    copyFileSync(path.join(root, 'test/fixtures/upstream-clients.json'), path.join(dataDir, 'clients.json'))
    // `hivemind-core` on PATH, as an installed package provides it.
    const bin = path.join(sandbox.root, 'bin')
    mkdirSync(bin)
    writeFileSync(path.join(bin, 'hivemind-core'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`)
    chmodSync(path.join(bin, 'hivemind-core'), 0o755)
    const work = path.join(sandbox.root, 'work')
    mkdirSync(work)
    const script = recipe('docs/migration.md', 'ci-recipe')
    for (const run of [1, 2]) {
      const result = spawnSync('bash', ['-c', script], {cwd: work, env: {...sandbox.env, PATH: `${bin}:${process.env.PATH}`}, encoding: 'utf8'})
      expect(result.status, `run ${run}: ${result.stderr}`).to.equal(0)
      const report = JSON.parse(readFileSync(path.join(work, 'migrate-report.json'), 'utf8')) as {verified: boolean; copied: number}
      expect(report.verified).to.equal(true)
      expect(report.copied).to.equal(run === 1 ? 4 : 0)
      const listed = JSON.parse(readFileSync(path.join(work, 'clients.json.check'), 'utf8')) as Array<{client_id: number}>
      expect(listed.map((record) => record.client_id)).to.deep.equal([1, 3])
    }
    expect(JSON.parse(readFileSync(path.join(sandbox.home, '.config/hivemind/config.json'), 'utf8'))).to.deep.equal({database: {backend: 'sqlite'}})
  })
})
