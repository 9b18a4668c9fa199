/**
 * Recipes in docs/ that people paste into scripts run here word for word.
 */
import {spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import {digestFiles} from './helpers/cli.js'
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

    // The hive lives on in SQLite (the recipe switched to it); the next deploys must still pass and
    // leave it alone, whatever was added, changed or revoked in it meanwhile.
    const env = {...sandbox.env, PATH: `${bin}:${process.env.PATH}`}
    const added = spawnSync('hivemind-core', ['add-client', '--name', 'later', '--json', '--quiet'], {cwd: work, env, encoding: 'utf8'})
    expect(added.status, added.stderr).to.equal(0)
    const renamed = spawnSync('hivemind-core', ['rename-client', '1', '--name', 'renamed', '--quiet'], {cwd: work, env, encoding: 'utf8'})
    expect(renamed.status, renamed.stderr).to.equal(0)
    const dbFile = path.join(dataDir, 'clients.db')
    const before = digestFiles([dbFile, `${dbFile}-wal`])
    for (const run of [3, 4]) {
      const result = spawnSync('bash', ['-c', script], {cwd: work, env, encoding: 'utf8'})
      expect(result.status, `run ${run}: ${result.stderr}`).to.equal(0)
      const report = JSON.parse(readFileSync(path.join(work, 'migrate-report.json'), 'utf8')) as {verified: boolean; copied: number}
      expect(report).to.deep.include({verified: true, copied: 0})
      const listed = JSON.parse(readFileSync(path.join(work, 'clients.json.check'), 'utf8')) as Array<{client_id: number; name: string}>
      expect(listed.map((record) => [record.client_id, record.name])).to.deep.equal([[1, 'renamed'], [3, listed[1]!.name], [5, 'later']])
    }
    expect(digestFiles([dbFile, `${dbFile}-wal`]), 'clients.db untouched').to.equal(before)
    const said = spawnSync('hivemind-core', ['migrate-db', '--from', 'json', '--to', 'sqlite', '--quiet'], {cwd: work, env, encoding: 'utf8'})
    expect(said.status, said.stderr).to.equal(0)
    expect(said.stdout).to.contain('Already done').and.to.contain('The target has changed since (1 record(s) added, 1 changed); it was left untouched.')
  })
})
