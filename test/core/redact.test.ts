import {expect} from 'chai'

import {maskUrlPassword, maskUrlSecrets, redactSecrets, stripUrlPassword} from '../../src/core/redact.js'

describe('redact', () => {
  it('maskUrlSecrets masks the password and every query value of a URL, and leaves other text alone', () => {
    expect(maskUrlSecrets('ws://bus:pw@127.0.0.1:8181/core?token=t0k&plain&v=1#frag')).to.equal('ws://bus:********@127.0.0.1:8181/core?token=********&plain&v=********#frag')
    expect(maskUrlSecrets('ws://127.0.0.1:8181/core')).to.equal('ws://127.0.0.1:8181/core')
    expect(maskUrlSecrets('not a url?x=1')).to.equal('not a url?x=1')
    // maskUrlPassword (what --switch compares against) still touches the password only.
    expect(maskUrlPassword('ws://bus:pw@h/core?token=t0k')).to.equal('ws://bus:********@h/core?token=t0k')
  })

  it('a raw @ or / in a password is masked and stripped whole, never shown in part', () => {
    const cases: Array<[string, string, string]> = [
      ['postgres://qa2:Qa@Leak99@127.0.0.1:5499/qa2', 'postgres://qa2:********@127.0.0.1:5499/qa2', 'postgres://qa2@127.0.0.1:5499/qa2'],
      ['postgres://qa:ab/LEAKcd@127.0.0.1/db', 'postgres://qa:********@127.0.0.1/db', 'postgres://qa@127.0.0.1/db'],
      ['redis://:p@ss/w@rd@host:6379/2', 'redis://:********@host:6379/2', 'redis://host:6379/2'],
      ['rediss://user:secret@host:6380', 'rediss://user:********@host:6380', 'rediss://user@host:6380'],
      ['redis://:secret@host', 'redis://:********@host', 'redis://host'],
      // An @ in the path must be percent-encoded, as for the drivers.
      ['postgres://u:pw@host/db%40x', 'postgres://u:********@host/db%40x', 'postgres://u@host/db%40x'],
      // No password: nothing to do, whatever the rest holds.
      ['postgres://user@host/db', 'postgres://user@host/db', 'postgres://user@host/db'],
      ['postgres://host:5432/db@x', 'postgres://host:5432/db@x', 'postgres://host:5432/db@x'],
      ['redis://host:6379/0?x=a@b', 'redis://host:6379/0?x=a@b', 'redis://host:6379/0?x=a@b'],
      ['/var/lib/clients.db', '/var/lib/clients.db', '/var/lib/clients.db'],
    ]
    for (const [url, masked, stripped] of cases) {
      expect(maskUrlPassword(url), url).to.equal(masked)
      expect(stripUrlPassword(url), url).to.equal(stripped)
    }
  })
})

describe('redactSecrets', () => {
  it('masks a secret where it stands as a word of its own: quoted, after a colon or a space, at either end (QA)', () => {
    expect(redactSecrets('invalid CSV: value is "s3cretPass!"', ['s3cretPass!'])).to.equal('invalid CSV: value is "********"')
    expect(redactSecrets('AUTH Zq7hivE failed', ['Zq7hivE'])).to.equal('AUTH ******** failed')
    expect(redactSecrets('Zq7hivE', ['Zq7hivE'])).to.equal('********')
    expect(redactSecrets('token=abc123&x=1', ['abc123'])).to.equal('token=********&x=1')
    expect(redactSecrets('twice: k3y k3y.', ['k3y'])).to.equal('twice: ******** ********.')
    expect(redactSecrets('a regexp secret a.b*c+ (here)', ['a.b*c+'])).to.equal('a regexp secret ******** (here)')
  })

  it('leaves a secret that is only part of a longer word: the text stays readable and does not show which part was the secret (QA)', () => {
    expect(redactSecrets('Hint: see the ids with: hivemind-core list-clients', ['hivemind'])).to.equal('Hint: see the ids with: hivemind-core list-clients')
    expect(redactSecrets('Error: the backup passphrase is too short', ['back', 'pass'])).to.equal('Error: the backup passphrase is too short')
    expect(redactSecrets('wrong passphrase', ['pass'])).to.equal('wrong passphrase')
  })

  it("leaves a secret that is a word of hivemind-core's own messages: masking it garbled the hint and showed the secret by the gap (QA)", () => {
    expect(redactSecrets('authentication failed (wrong password)', ['password'])).to.equal('authentication failed (wrong password)')
    expect(redactSecrets('set it with env HIVEMIND_REDIS_PASSWORD or database.redis.password', ['password'])).to.equal('set it with env HIVEMIND_REDIS_PASSWORD or database.redis.password')
    expect(redactSecrets('the backup passphrase is too short (at least 8 characters)', ['short'])).to.equal('the backup passphrase is too short (at least 8 characters)')
    expect(redactSecrets('Redis at 127.0.0.1:6379: refused', ['Redis'])).to.equal('Redis at 127.0.0.1:6379: refused')
    expect(redactSecrets('expected redis://[user:password@]host:port/db, or redis://:PASSWORD@host', [])).to.equal('expected redis://[user:password@]host:port/db, or redis://:PASSWORD@host')
    expect(redactSecrets('cannot reach redis://:xK9zz7@h:1/0', [])).to.equal('cannot reach redis://:********@h:1/0')
    // Names of our code that are not plain words, and plausible passwords: still masked.
    expect(redactSecrets('AUTH OpenVoiceOS failed', ['OpenVoiceOS'])).to.equal('AUTH ******** failed')
    expect(redactSecrets('AUTH redis-password failed', ['redis-password'])).to.equal('AUTH ******** failed')
    // Not one of our words (nor a word at all): still masked.
    expect(redactSecrets('token hunter2x9 refused', ['hunter2x9'])).to.equal('token ******** refused')
    expect(redactSecrets('cannot write /tmp/qa/s3/x', ['qa/s3'])).to.equal('cannot write /tmp/********/x')
  })
})
