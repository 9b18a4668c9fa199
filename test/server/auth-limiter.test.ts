import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {expect} from 'chai'

import type {AuditEntry} from '../../src/audit/entry.js'
import {type AuditSink, AuditTrail, FileAuditSink} from '../../src/audit/trail.js'
import {addressKey, AuthFailureLimiter} from '../../src/server/auth-limiter.js'
import {ListenerAudit} from '../../src/server/audit.js'
import {HandshakeGate} from '../../src/server/handshake-gate.js'

/** A clock the test moves by hand: no real waiting, no timing assertions. */
function clock(start = 1_000_000) {
  let now = start
  return {now: () => now, advance: (ms: number) => (now += ms)}
}

describe('AuthFailureLimiter', () => {
  it('blocks an address at the threshold, once, and refuses it without counting further failures as new blocks', () => {
    const time = clock()
    const limiter = new AuthFailureLimiter({maxFailures: 10, windowMs: 60_000, coolOffMs: 300_000, now: time.now})
    for (let n = 1; n <= 9; n++) {
      expect(limiter.check('10.0.0.1')).to.deep.equal({allowed: true})
      expect(limiter.recordFailure('10.0.0.1')).to.deep.equal({blocked: false, justBlocked: false, failures: n})
      time.advance(1000)
    }
    expect(limiter.recordFailure('10.0.0.1')).to.deep.equal({blocked: true, justBlocked: true, failures: 10})
    // Another address is unaffected.
    expect(limiter.check('10.0.0.2')).to.deep.equal({allowed: true})
    // The rest of a burst of 200: refused at the door, never "just blocked" again.
    let justBlocked = 0
    for (let n = 0; n < 190; n++) {
      const check = limiter.check('10.0.0.1')
      expect(check.allowed).to.equal(false)
      if (limiter.recordFailure('10.0.0.1').justBlocked) justBlocked++
    }
    expect(justBlocked).to.equal(0)
    expect(limiter.isBlocked('10.0.0.1')).to.equal(true)
  })

  it('counts failures in a sliding window: slow failures never block', () => {
    const time = clock()
    const limiter = new AuthFailureLimiter({maxFailures: 3, windowMs: 60_000, now: time.now})
    for (let n = 0; n < 50; n++) {
      expect(limiter.recordFailure('10.0.0.1').blocked).to.equal(false)
      time.advance(30_001) // at most 2 in any 60 s
    }
    time.advance(1)
    limiter.recordFailure('10.0.0.1')
    time.advance(1)
    expect(limiter.recordFailure('10.0.0.1')).to.include({blocked: true, justBlocked: true})
  })

  it('lets the address back after the cooling-off period, with ONE summary of the block', () => {
    const time = clock()
    const limiter = new AuthFailureLimiter({maxFailures: 2, windowMs: 60_000, coolOffMs: 300_000, now: time.now})
    limiter.recordFailure('10.0.0.1')
    limiter.recordFailure('10.0.0.1')
    for (let n = 0; n < 5; n++) limiter.check('10.0.0.1')
    time.advance(299_999)
    expect(limiter.check('10.0.0.1')).to.deep.equal({allowed: false, retryAfterMs: 1})
    expect(limiter.sweep()).to.deep.equal([])
    time.advance(1)
    const summaries = limiter.sweep()
    expect(summaries).to.have.length(1)
    expect(summaries[0]).to.include({address: '10.0.0.1', failures: 2, refused: 6, ended: 'expired'})
    expect(limiter.check('10.0.0.1')).to.deep.equal({allowed: true})
    expect(limiter.sweep()).to.deep.equal([])
    // Its earlier failures are forgotten: it takes the full threshold again.
    expect(limiter.recordFailure('10.0.0.1').blocked).to.equal(false)
  })

  it('keeps memory bounded with 10,000+ attacking addresses, and keeps blocks over mere watchers', () => {
    const time = clock()
    const limiter = new AuthFailureLimiter({maxFailures: 3, maxTracked: 10_000, now: time.now})
    // Three addresses get blocked first.
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) for (let n = 0; n < 3; n++) limiter.recordFailure(address)
    // Then 25,000 distinct addresses fail once each.
    for (let n = 0; n < 25_000; n++) {
      limiter.recordFailure(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`)
      expect(limiter.stats().tracked).to.be.at.most(10_000)
    }
    const stats = limiter.stats()
    expect(stats.tracked).to.equal(10_000)
    expect(stats.blocked).to.equal(3)
    expect(stats.evictedWatched).to.equal(25_000 + 3 - 10_000)
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) expect(limiter.isBlocked(address)).to.equal(true)
    // 10,000 blocked addresses: the oldest block gives way, the count stays bounded.
    const full = new AuthFailureLimiter({maxFailures: 1, maxTracked: 10_000, now: time.now})
    for (let n = 0; n < 10_500; n++) full.recordFailure(`172.16.${(n >> 8) & 255}.${n & 255}-${n >> 16}`)
    expect(full.stats()).to.include({tracked: 10_000, blocked: 10_000, evictedBlocks: 500})
    expect(full.sweep().filter((summary) => summary.ended === 'evicted')).to.have.length(500)
  })

  it('sweep() forgets idle addresses', () => {
    const time = clock()
    const limiter = new AuthFailureLimiter({maxFailures: 5, windowMs: 60_000, now: time.now})
    for (let n = 0; n < 100; n++) limiter.recordFailure(`10.0.0.${n}`)
    time.advance(60_001)
    limiter.recordFailure('10.0.1.1')
    limiter.sweep()
    expect(limiter.stats().tracked).to.equal(1)
  })

  it('tracks IPv6 per /64 and IPv4-mapped IPv6 as IPv4', () => {
    expect(addressKey('::ffff:192.0.2.7')).to.equal('192.0.2.7')
    expect(addressKey('2001:db8:1:2:a:b:c:d')).to.equal('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002::1')).to.equal('2001:db8:1:2::/64')
    expect(addressKey('[fe80::1%eth0]')).to.equal('fe80:0:0:0::/64')
    expect(addressKey('::1')).to.equal('0:0:0:0::/64')
    const limiter = new AuthFailureLimiter({maxFailures: 3})
    limiter.recordFailure('2001:db8:1:2::a')
    limiter.recordFailure('2001:db8:1:2::b')
    expect(limiter.recordFailure('2001:db8:1:2:ffff::c').justBlocked).to.equal(true)
    expect(limiter.isBlocked('2001:db8:1:3::a')).to.equal(false)
  })

  it('rejects nonsense settings', () => {
    expect(() => new AuthFailureLimiter({maxFailures: 0})).to.throw(RangeError)
    expect(() => new AuthFailureLimiter({maxTracked: 1.5})).to.throw(RangeError)
  })
})

describe('HandshakeGate', () => {
  it('caps handshakes per address and in total; a flooding address cannot starve another', () => {
    const gate = new HandshakeGate({maxInFlight: 8, maxPerAddress: 2})
    const flood = Array.from({length: 200}, () => gate.tryAcquire('203.0.113.9'))
    expect(flood.filter((result) => 'release' in result)).to.have.length(2)
    expect(flood.filter((result) => 'refused' in result && result.refused === 'address-busy')).to.have.length(198)
    const valid = gate.tryAcquire('198.51.100.1')
    expect(valid).to.have.property('release')
    expect(gate.inFlight()).to.equal(3)

    // Many addresses: the total cap holds.
    const others = Array.from({length: 20}, (_, n) => gate.tryAcquire(`10.0.0.${n}`))
    expect(others.filter((result) => 'release' in result)).to.have.length(5)
    expect(others.filter((result) => 'refused' in result && result.refused === 'busy')).to.have.length(15)
    expect(gate.inFlight()).to.equal(8)

    // Releasing (twice is harmless) frees the slots and the per-address entries.
    for (const result of [...flood, valid, ...others]) if ('release' in result) {
      result.release()
      result.release()
    }
    expect(gate.stats()).to.include({inFlight: 0, addresses: 0})
    expect(gate.tryAcquire('203.0.113.9')).to.have.property('release')
  })
})

describe('ListenerAudit', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-listener-audit-'))
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('writes one line per event, in order, with the listener\'s identity and no secret', async () => {
    const file = path.join(dir, 'audit.log')
    const audit = new ListenerAudit(new AuditTrail([new FileAuditSink(file)], 'listen'))
    audit.authFailure({address: '10.0.0.1', reason: 'unknown access key'})
    audit.authFailure({address: '10.0.0.1', reason: 'wrong password', client: {client_id: 3, name: 'kitchen'}})
    audit.policyViolation({address: '10.0.0.2', client: {client_id: 4, name: 'bridge'}, reason: 'message type not allowed', messageType: 'speak'})
    audit.disconnect({client: {client_id: 5, name: 'old'}, reason: 'revoked'})
    audit.rateLimited({address: '10.0.0.1', failures: 10, windowMs: 60_000, coolOffMs: 300_000})
    audit.rateLimitSummary({address: '10.0.0.1', failures: 10, refused: 190, blockedAt: 0, until: 300_000, ended: 'expired'})
    await audit.close()
    const entries = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as AuditEntry)
    expect(entries.map((entry) => entry.event)).to.deep.equal(['auth_failure', 'auth_failure', 'policy_violation', 'disconnect', 'rate_limited', 'rate_limit_summary'])
    for (const entry of entries) expect(entry).to.include({v: 1, command: 'listen'})
    expect(entries[1]).to.deep.include({client_id: 3, name: 'kitchen', details: {address: '10.0.0.1', reason: 'wrong password'}})
    expect(entries[5]!.details).to.deep.include({refused: 190})
  })

  it('never throws into the caller when the trail cannot be written, and bounds its queue (dropped lines are counted)', async () => {
    const errors: unknown[] = []
    const attempted: AuditEntry[][] = []
    let fail = true
    const sink: AuditSink = {
      description: 'test',
      async write(entries) {
        attempted.push([...entries])
        if (fail) throw new Error('disk full')
      },
      async close() {},
    }
    const audit = new ListenerAudit(new AuditTrail([sink], 'listen'), {maxQueue: 50, onError: (error) => errors.push(error)})
    // The first line starts a write at once; while it is in flight the queue fills to 50, the rest is dropped.
    for (let n = 0; n < 1000; n++) audit.authFailure({address: '10.0.0.1', reason: 'bad key'})
    expect(audit.pending).to.equal(50)
    await audit.flush()
    expect(errors).to.have.length(2)
    expect(attempted.map((batch) => batch.length)).to.deep.equal([1, 51])
    expect(attempted[1]!.at(-1)!.event).to.equal('audit_dropped')
    expect(attempted[1]!.at(-1)!.details).to.deep.include({dropped_lines: 949})
    fail = false
    audit.authFailure({address: '10.0.0.1', reason: 'bad key'})
    await audit.flush()
    expect(attempted.at(-1)!.map((entry) => entry.event)).to.deep.equal(['auth_failure'])
    expect(errors).to.have.length(2)
  })
})
