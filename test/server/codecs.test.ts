/**
 * Unit checks of the server's codecs against published vectors and against the independent test
 * client: base32 (RFC 4648 §10), the bitstring form, the authorization parser, hSub envelopes.
 */
import {createHash} from 'node:crypto'

import {expect} from 'chai'

import {parseAuthorization} from '../../src/server/auth.js'
import {base32Decode, base32Encode, decodeText, EncodingError} from '../../src/server/encodings.js'
import {createEnvelope, handshakeSalt, verifyEnvelope} from '../../src/server/handshake.js'
import {fromBitstring, hiveMessage, MessageFormatError, toBitstring} from '../../src/server/messages.js'
import {bitstring, unbitstring} from '../helpers/hive-client.js'

describe('server codecs', () => {
  it('base32 matches RFC 4648 test vectors both ways', () => {
    const vectors: Array<[string, string]> = [['', ''], ['f', 'MY======'], ['fo', 'MZXQ===='], ['foo', 'MZXW6==='], ['foob', 'MZXW6YQ='], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI======']]
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).to.equal(encoded)
      expect(base32Decode(encoded).toString()).to.equal(plain)
    }
    expect(() => base32Decode('M1======')).to.throw(EncodingError)
  })

  it('decoders refuse text outside their alphabet', () => {
    expect(() => decodeText('JSON-HEX', 'abc')).to.throw(EncodingError)
    expect(() => decodeText('JSON-B64', 'ab$d')).to.throw(EncodingError)
    expect(() => decodeText('JSON-URLSAFE-B64', 'ab+d')).to.throw(EncodingError)
    expect(() => decodeText('JSON-HEX', 42)).to.throw(EncodingError)
  })

  it('the bitstring form agrees with the independent encoder, versioned or not', () => {
    const message = hiveMessage('bus', {type: 'speak', data: {utterance: 'héllo'}, context: {}}, {metadata: {k: 'v'}})
    const ours = toBitstring(message)!
    expect(unbitstring(ours)).to.deep.include({msg_type: 'bus', payload: message.payload, metadata: {k: 'v'}})
    for (const versioned of [true, false]) {
      const theirs = bitstring({msg_type: 'propagate', payload: {msg_type: 'bus', payload: {type: 'x'}}, metadata: {}}, {versioned})
      const decoded = fromBitstring(theirs, 1024 * 1024)
      expect(decoded.msg_type).to.equal('propagate')
      expect(decoded.payload).to.deep.equal({msg_type: 'bus', payload: {type: 'x'}})
    }
  })

  it('the compressed bit covers metadata and a JSON payload, never a bin payload; code 11 reads as 3rdparty', () => {
    const compressed = bitstring({msg_type: 'bus', payload: {type: 'speak', data: {utterance: 'zlib'}}, metadata: {lang: 'en'}}, {compressed: true, versioned: false})
    expect(fromBitstring(compressed, 1024 * 1024)).to.deep.include({msg_type: 'bus', payload: {type: 'speak', data: {utterance: 'zlib'}}, metadata: {lang: 'en'}})
    // Audio in a `bin` frame stays raw bytes even when the (metadata-only) compression is on.
    const audio = Buffer.from([0x78, 0x9c, 0x00, 0xff, 0x10])
    const bin = fromBitstring(bitstring({msg_type: 'bin', payload: audio, metadata: {rate: 16000}}, {compressed: true, binType: 1}), 1024 * 1024)
    expect(Buffer.from(bin.payload as Buffer).equals(audio)).to.equal(true)
    expect(bin.metadata).to.deep.equal({rate: 16000, bin_type: 1})
    expect(fromBitstring(bitstring({msg_type: '3rdparty', payload: {x: 1}, metadata: {}}), 1024).msg_type).to.equal('3rdparty')
    // An inflated size beyond the bound is refused, not allocated.
    const bomb = bitstring({msg_type: 'bus', payload: 'x'.repeat(4096), metadata: {}}, {compressed: true})
    expect(() => fromBitstring(bomb, 1024)).to.throw(MessageFormatError, 'bad compressed payload')
  })

  it('parses the authorization parameter as real clients send it', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64')
    expect(parseAuthorization(`/?authorization=${b64('ua:key')}`)).to.deep.equal({userAgent: 'ua', accessKey: 'key'})
    expect(parseAuthorization(`?authorization=${b64('ua:key')}`)).to.deep.equal({userAgent: 'ua', accessKey: 'key'})
    // A `+` turned into a space, and a percent-encoded value.
    const plus = b64('ua>:k?y>')
    expect(plus).to.contain('+')
    expect(parseAuthorization(`/?authorization=${plus.replaceAll('+', ' ')}`)?.accessKey).to.equal('k?y>')
    expect(parseAuthorization(`/?authorization=${encodeURIComponent(plus)}`)?.accessKey).to.equal('k?y>')
    expect(parseAuthorization(`/?x=1&authorization=${b64('a:b:c')}`)).to.deep.equal({userAgent: 'a', accessKey: 'b:c'})
    for (const bad of [undefined, '/', '/?authorization=', '/?authorization=%zz', '/?authorization=****', `/?authorization=${b64('nocolon')}`, `/?authorization=${b64('ua:')}`]) {
      expect(parseAuthorization(bad)).to.equal(undefined)
    }
  })

  it('hSub envelopes: 48 hex characters, verified in constant time, salt is the XOR of the ivs', () => {
    const side = createEnvelope('secret')
    expect(side.envelope).to.match(/^[0-9a-f]{48}$/)
    const expected = Buffer.concat([side.iv, createHash('sha256').update(Buffer.concat([side.iv, Buffer.from('secret')])).digest()]).toString('hex').slice(0, 48)
    expect(side.envelope).to.equal(expected)
    expect(verifyEnvelope(side.envelope, 'secret')?.equals(side.iv)).to.equal(true)
    expect(verifyEnvelope(side.envelope, 'other')).to.equal(undefined)
    expect(verifyEnvelope(side.envelope.slice(0, 40), 'secret')).to.equal(undefined)
    expect(verifyEnvelope(42, 'secret')).to.equal(undefined)
    expect(handshakeSalt(Buffer.from('0102030405060708', 'hex'), Buffer.from('ff00ff00ff00ff00', 'hex')).toString('hex')).to.equal('fe02fc04fa06f808')
  })
})
