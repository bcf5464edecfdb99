import RuleLang

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The per-packet interpreter. `evaluate` allocates nothing and reads packet bytes in place:
/// registers live on the stack, constants in the program's flat memory.
public enum VM {
  /// Runs rulelist `rulelist` of `program` on `packet`. Rewrites go to `rewrites` (capacity at
  /// least `Verifier.maxRewrites`; fewer are dropped past its end).
  public static func evaluate(
    _ program: VerifiedProgram, rulelist: Int, packet: PacketView,
    rewrites: UnsafeMutableBufferPointer<Rewrite>
  ) -> Verdict {
    withUnsafePointer(to: packet) {
      evaluate(program, rulelist: rulelist, packet: $0, rewrites: rewrites)
    }
  }

  /// The same, on a view the caller keeps in place (the proxy's per-listener view): nothing is
  /// copied.
  public static func evaluate(
    _ program: VerifiedProgram, rulelist: Int, packet: UnsafePointer<PacketView>,
    rewrites: UnsafeMutableBufferPointer<Rewrite>
  ) -> Verdict {
    var entry = program.entries[rulelist]
    if let verdict = FieldTest.run(program.opsBase, packet, pc: &entry) { return verdict }
    return run(program, from: entry, packet: packet, rewrites: rewrites)
  }

  /// The rest of an evaluation, from `entry`, on a `Machine`. Out of line, so that evaluations
  /// that `FieldTest.run` decides do not pay for setting up the register files.
  @inline(never)
  static func run(
    _ program: VerifiedProgram, from entry: Int, packet: UnsafePointer<PacketView>,
    rewrites: UnsafeMutableBufferPointer<Rewrite>
  ) -> Verdict {
    // One stack block, uninitialized, for every register file and the index cursors.
    return withUnsafeTemporaryAllocation(byteCount: Machine.blockBytes, alignment: 16) { raw in
      let block = raw.baseAddress!
      _ = block.bindMemory(to: Int64.self, capacity: Registers.ints)
      _ = (block + Machine.intsBytes).bindMemory(to: BytesRegister.self, capacity: Registers.bytes)
      _ = (block + Machine.intsBytes + Machine.bytesBytes).bindMemory(
        to: IPAddress.self, capacity: Registers.ips)
      let cursors = (block + Machine.intsBytes + Machine.bytesBytes + Machine.ipsBytes)
        .bindMemory(to: Int.self, capacity: CandidateLists.cursorCount)
      var candidates = CandidateLists(program: program, packet: packet, cursors: cursors)
      // An indexed rulelist whose candidates are decided by field tests (a rule index's rules
      // usually are) needs no registers: `dispatch`, field tests, `next`, `match` in the light
      // loop; the `Machine` goes on where it stops, with the same candidates.
      var pc = entry
      if program.opsBase[entry].kind == .dispatch {
        let decided = withUnsafeMutablePointer(to: &candidates) {
          FieldTest.run(program.opsBase, packet, pc: &pc, candidates: $0)
        }
        if let decided { return decided }
      }
      var m = Machine(
        program: program, packet: packet, block: block, rewrites: rewrites, candidates: candidates)
      return m.run(from: pc)
    }
  }

  /// A convenience for tools and tests: evaluates and copies out the rewrites.
  public static func evaluate(
    _ program: VerifiedProgram, rulelist: Int, packet: OwnedPacket
  ) -> (verdict: Verdict, rewrites: [(path: String, value: OwnedPacket.Value)]) {
    packet.withView { view in
      withUnsafeTemporaryAllocation(of: Rewrite.self, capacity: Verifier.maxRewrites) { buf in
        let v = evaluate(program, rulelist: rulelist, packet: view, rewrites: buf)
        var out: [(String, OwnedPacket.Value)] = []
        for i in 0..<Int(v.rewriteCount) {
          let r = buf[i]
          guard case .path(let path) = program.program.constants[Int(r.path)] else { continue }
          switch r.value {
          case .int(let x): out.append((path, .int(x)))
          case .ip(let a): out.append((path, .ip(a)))
          case .bytes(let b, let folded):
            out.append((path, .bytes(folded ? b.map(asciiLower) : Array(b))))
          case .constant(let k):
            switch program.program.constants[Int(k)] {
            case .int(let x): out.append((path, .int(x)))
            case .bytes(let b): out.append((path, .bytes(b)))
            case .ip(let a): out.append((path, .ip(a)))
            default: break
            }
          }
        }
        return (v, out)
      }
    }
  }
}

struct BytesRegister {
  var base: UnsafeRawPointer
  var count: Int
  var fold: Bool
}

@inline(__always) func asciiLower(_ c: UInt8) -> UInt8 {
  c &- 0x41 < 26 ? c | 0x20 : c
}

/// The machine state of one evaluation.
struct Machine {
  /// Borrowed for the evaluation: the caller holds the program, so no reference counting here.
  unowned(unsafe) let program: VerifiedProgram
  /// The caller's view, read in place rather than copied.
  let packet: UnsafePointer<PacketView>
  /// The register files and the index cursors, in one stack block (`blockBytes`): one pointer
  /// to set up per evaluation, the files at fixed offsets from it.
  let block: UnsafeMutableRawPointer
  let rewrites: UnsafeMutableBufferPointer<Rewrite>
  var intPresent: UInt32 = 0
  var bytesPresent: UInt32 = 0
  var ipPresent: UInt32 = 0
  var rewriteCount = 0
  /// The rule index cursors, after the register files in `block`.
  var candidates: CandidateLists

  static var intsBytes: Int { Registers.ints * MemoryLayout<Int64>.stride }
  static var bytesBytes: Int { Registers.bytes * MemoryLayout<BytesRegister>.stride }
  static var ipsBytes: Int { Registers.ips * MemoryLayout<IPAddress>.stride }
  static var blockBytes: Int {
    intsBytes + bytesBytes + ipsBytes + CandidateLists.cursorCount * MemoryLayout<Int>.stride
  }

  @inline(__always) var ints: UnsafeMutablePointer<Int64> {
    block.assumingMemoryBound(to: Int64.self)
  }
  @inline(__always) var bytes: UnsafeMutablePointer<BytesRegister> {
    (block + Self.intsBytes).assumingMemoryBound(to: BytesRegister.self)
  }
  @inline(__always) var ips: UnsafeMutablePointer<IPAddress> {
    (block + Self.intsBytes + Self.bytesBytes).assumingMemoryBound(to: IPAddress.self)
  }

  init(
    program: VerifiedProgram, packet: UnsafePointer<PacketView>, block: UnsafeMutableRawPointer,
    rewrites: UnsafeMutableBufferPointer<Rewrite>, candidates: CandidateLists
  ) {
    self.program = program
    self.candidates = candidates
    self.packet = packet
    self.block = block
    self.rewrites = rewrites
    if program.loadsPayload, let p = packet.pointee.payload {
      bytes[0] = BytesRegister(
        base: p.baseAddress ?? UnsafeRawPointer(program.arena.baseAddress!), count: p.count,
        fold: false)
      bytesPresent = 1
    }
  }

  // MARK: registers

  @inline(__always) mutating func setInt(_ r: Int, _ v: Int64?) {
    if let v {
      ints[r] = v
      intPresent |= 1 &<< r
    } else {
      intPresent &= ~(1 &<< r)
    }
  }

  @inline(__always) func int(_ r: Int) -> Int64? {
    intPresent & (1 &<< r) != 0 ? ints[r] : nil
  }

  @inline(__always) mutating func setBytes(
    _ r: Int, _ v: UnsafeRawBufferPointer?, fold: Bool = false
  ) {
    if let v {
      bytes[r] = BytesRegister(
        base: v.baseAddress ?? UnsafeRawPointer(program.arena.baseAddress!), count: v.count,
        fold: fold)
      bytesPresent |= 1 &<< r
    } else {
      bytesPresent &= ~(1 &<< r)
    }
  }

  @inline(__always) func bytesReg(_ r: Int) -> BytesRegister? {
    bytesPresent & (1 &<< r) != 0 ? bytes[r] : nil
  }

  @inline(__always) mutating func setIP(_ r: Int, _ v: IPAddress?) {
    if let v {
      ips[r] = v
      ipPresent |= 1 &<< r
    } else {
      ipPresent &= ~(1 &<< r)
    }
  }

  @inline(__always) func ip(_ r: Int) -> IPAddress? {
    ipPresent & (1 &<< r) != 0 ? ips[r] : nil
  }

  // MARK: constants and fields

  @inline(__always) func constBytes(_ k: Int) -> UnsafeRawBufferPointer {
    let s = program.slots[k]
    return UnsafeRawBufferPointer(rebasing: program.arena[s.start..<(s.start + s.count)])
  }

  @inline(__always) func intField(_ raw: Int) -> Int64? {
    let v = raw == Int(Field.srcPort.rawValue) ? packet.pointee.srcPort : packet.pointee.dstPort
    return v >= 0 ? Int64(v) : nil
  }

  @inline(__always) func ipField(_ raw: Int) -> IPAddress? {
    guard packet.pointee.hasAddresses else { return nil }
    return raw == Int(Field.srcAddr.rawValue) ? packet.pointee.srcAddr : packet.pointee.dstAddr
  }

  @inline(__always) func bytesField(_ raw: Int) -> UnsafeRawBufferPointer? {
    // `Field`'s raw values (fixed by the program format): a switch on them needs no call to
    // `Field(rawValue:)`, which is out of line across modules.
    switch raw {
    case 4: return packet.pointee.payload
    case 5: return packet.pointee.httpMethod
    case 6: return packet.pointee.httpPath
    case 7: return packet.pointee.httpQuery
    case 8: return packet.pointee.httpHost
    case 9: return packet.pointee.unixFilename
    default: return nil
    }
  }

  /// The index of the latest rewrite of path constant `k` in this evaluation, if any.
  func latestRewrite(_ k: Int) -> Int? {
    var i = min(rewriteCount, rewrites.count) - 1
    while i >= 0 {
      if Int(rewrites[i].path) == k { return i }
      i -= 1
    }
    return nil
  }

  /// A header, label or rewritten HTTP field by its path constant: this evaluation's rewrites
  /// first, then the packet. String fields (`HTTP.…`) hold text: an int or an address set into one
  /// reads back as its text. `folded`: a rewritten byte string that went through lower().
  func named(_ k: Int) -> (value: DynamicValue, folded: Bool)? {
    let s = program.slots[k]
    if let i = latestRewrite(k) {
      if s.extra == 13 || s.extra < 0, let text = text(ofRewrite: i) {
        return (.bytes(text), false)
      }
      switch rewrites[i].value {
      case .int(let x): return (.int(x), false)
      case .ip(let a): return (.ip(a), false)
      case .bytes(let b, let folded): return (.bytes(b), folded)
      case .constant(let c):
        switch program.program.constants[Int(c)] {
        case .int(let x): return (.int(x), false)
        case .ip(let a): return (.ip(a), false)
        default: return (.bytes(constBytes(Int(c))), false)
        }
      }
    }
    if s.extra < 0 { return bytesField(Int(s.int)).map { (.bytes($0), false) } }
    let leaf = UnsafeRawBufferPointer(
      rebasing: program.arena[(s.start + s.extra)..<(s.start + s.count)])
    if s.extra == 13 {
      guard let hs = packet.pointee.headers else { return nil }
      for h in hs where equalFolded(h.name, leaf) { return (.bytes(h.value), false) }
      return nil
    }
    guard let ls = packet.pointee.labels else { return nil }
    for l in ls where equal(l.name, leaf) { return (l.value, false) }
    return nil
  }

  /// The text of rewrite `i` when it is an int or an address, written into the rewrite's own
  /// storage (which lives as long as the caller's rewrite buffer); nil for byte strings.
  func text(ofRewrite i: Int) -> UnsafeRawBufferPointer? {
    var value = rewrites[i].value
    if case .constant(let c) = value {
      switch program.program.constants[Int(c)] {
      case .int(let x): value = .int(x)
      case .ip(let a): value = .ip(a)
      default: return nil
      }
    }
    let storage =
      UnsafeMutableRawPointer(rewrites.baseAddress! + i)
      + MemoryLayout<Rewrite>.offset(of: \Rewrite.text)!
    let count: Int
    switch value {
    case .int(let x): count = TextFormat.int(x, storage)
    case .ip(let a): count = TextFormat.ip(a, storage)
    default: return nil
    }
    return UnsafeRawBufferPointer(start: storage, count: count)
  }

  // MARK: byte-string operations

  @inline(__always) func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
  }

  func equalFolded(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    for i in 0..<a.count where asciiLower(a[i]) != asciiLower(b[i]) { return false }
    return true
  }

  /// `hay[at..<at+needle.count] == needle`, folding `hay` when asked.
  @inline(__always) func matchAt(
    _ hay: BytesRegister, _ at: Int, _ needle: UnsafeRawBufferPointer, fold: Bool
  ) -> Bool {
    let n = needle.count
    if n == 0 { return true }
    if !fold { return memcmp(hay.base + at, needle.baseAddress!, n) == 0 }
    for i in 0..<n
    where asciiLower(hay.base.load(fromByteOffset: at + i, as: UInt8.self)) != needle[i] {
      return false
    }
    return true
  }

  @inline(__always) func bytesOp(
    _ op: Opcode, _ s: BytesRegister, _ k: UnsafeRawBufferPointer, fold: Bool
  ) -> Bool {
    switch op {
    case .jbeq, .jbeqr: return s.count == k.count && matchAt(s, 0, k, fold: fold)
    case .jbne, .jbner: return !(s.count == k.count && matchAt(s, 0, k, fold: fold))
    case .jbstarts, .jbstartsr, .jfstarts: return s.count >= k.count && matchAt(s, 0, k, fold: fold)
    case .jbends, .jbendsr:
      return s.count >= k.count && matchAt(s, s.count - k.count, k, fold: fold)
    default:
      // contains
      if k.count == 0 { return true }
      if s.count < k.count { return false }
      if !fold {
        // memchr for the first byte, memcmp for the rest.
        let first = Int32(k[0])
        var at = 0
        let last = s.count - k.count
        while at <= last {
          guard let hit = memchr(s.base + at, first, last - at + 1) else { return false }
          let pos = UnsafeRawPointer(hit) - s.base
          if memcmp(s.base + pos, k.baseAddress!, k.count) == 0 { return true }
          at = pos + 1
        }
        return false
      }
      for at in 0...(s.count - k.count) where matchAt(s, at, k, fold: true) { return true }
      return false
    }
  }

  @inline(__always) func intervalsContain(_ k: Int, _ x: Int64) -> Bool {
    let s = program.slots[k]
    return interval(of: x, in: program.ranges.baseAddress! + 2 * s.start, count: s.count) != nil
  }

  @inline(__always) func ipSetContains(_ k: Int, _ x: IPAddress) -> Bool {
    let s = program.slots[k]
    return interval(of: x, in: program.ipRanges.baseAddress! + 2 * s.start, count: s.count) != nil
  }

  func bytesSetContains(_ k: Int, _ v: BytesRegister) -> Bool {
    let s = program.slots[k]
    var lo = s.start
    var hi = s.start + s.count
    while lo < hi {
      let mid = (lo + hi) / 2
      let m = program.members[mid]
      let c = compare(v, program.arena.baseAddress! + m.start, m.count)
      if c == 0 { return true }
      if c > 0 { lo = mid + 1 } else { hi = mid }
    }
    return false
  }

  /// Lexicographic comparison of a (maybe folded) register with a member.
  func compare(_ v: BytesRegister, _ m: UnsafeRawPointer, _ count: Int) -> Int {
    let n = min(v.count, count)
    for i in 0..<n {
      var x = v.base.load(fromByteOffset: i, as: UInt8.self)
      if v.fold { x = asciiLower(x) }
      let y = m.load(fromByteOffset: i, as: UInt8.self)
      if x != y { return x < y ? -1 : 1 }
    }
    return v.count == count ? 0 : v.count < count ? -1 : 1
  }

  func automatonMatches(_ k: Int, _ v: BytesRegister) -> Bool {
    let s = program.slots[k]
    let rows = program.transitions.baseAddress! + s.start
    let flags = program.flags.baseAddress! + s.extra
    var state = Int(s.int)
    if flags[state] & 1 != 0 { return true }
    for i in 0..<v.count {
      var c = v.base.load(fromByteOffset: i, as: UInt8.self)
      if v.fold { c = asciiLower(c) }
      state = Int(rows[state &* 256 &+ Int(c)])
      if state == 0 { return false }
      if flags[state] & 1 != 0 { return true }
    }
    return flags[state] & 2 != 0
  }

  /// Big-endian load of `width` bytes at `offset`, or nil past the end.
  @inline(__always) func load(_ s: BytesRegister?, _ offset: Int64, _ width: Int) -> Int64? {
    guard let s, offset >= 0, offset <= Int64(s.count - width) else { return nil }
    if !s.fold {
      // One unaligned load instead of a loop over bytes.
      let at = s.base + Int(offset)
      switch width {
      case 1: return Int64(at.load(as: UInt8.self))
      case 2: return Int64(UInt16(bigEndian: at.loadUnaligned(as: UInt16.self)))
      case 4: return Int64(UInt32(bigEndian: at.loadUnaligned(as: UInt32.self)))
      default: break
      }
    }
    var v: Int64 = 0
    for i in 0..<width {
      let c = s.base.load(fromByteOffset: Int(offset) + i, as: UInt8.self)
      v = v << 8 | Int64(s.fold ? asciiLower(c) : c)
    }
    return v
  }

  mutating func record(_ path: UInt16, _ value: RewriteValue) {
    if rewriteCount < rewrites.count { rewrites[rewriteCount] = Rewrite(path: path, value: value) }
    rewriteCount += 1
  }
}
