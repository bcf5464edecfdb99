import RuleLang

/// A program that passed the verifier, laid out for the interpreter: code and constants in flat,
/// manually managed memory, so evaluation touches no Swift arrays and no reference counts.
public final class VerifiedProgram: @unchecked Sendable {
  public let program: Program
  /// The longest path through the code, in instructions (the verifier's bound).
  public let worstPath: Int

  let code: UnsafeMutableBufferPointer<Instruction>
  let slots: UnsafeMutableBufferPointer<ConstantSlot>
  let arena: UnsafeMutableRawBufferPointer
  let ranges: UnsafeMutableBufferPointer<Int64>  // int set bounds: lo, hi, lo, hi…
  let ipRanges: UnsafeMutableBufferPointer<IPAddress>  // ip set bounds
  let members: UnsafeMutableBufferPointer<ByteSpan>  // bytes set members
  let transitions: UnsafeMutableBufferPointer<UInt32>
  let flags: UnsafeMutableBufferPointer<UInt8>  // automaton state flags: 1 accepting, 2 at end

  /// Instance-independent description of one constant.
  struct ConstantSlot {
    var int: Int64 = 0
    var ip = IPAddress(v4: 0)
    /// bytes: arena span; sets: first index and count in `ranges`/`ipRanges`/`members`;
    /// automaton: first transition row and start state; path: name span and leaf offset.
    var start = 0
    var count = 0
    var extra = 0
  }

  struct ByteSpan {
    var start: Int
    var count: Int
  }

  init(program: Program, worstPath: Int) {
    self.program = program
    self.worstPath = worstPath
    code = .allocate(capacity: max(1, program.code.count))
    _ = code.initialize(from: program.code)
    slots = .allocate(capacity: max(1, program.constants.count))
    slots.initialize(repeating: ConstantSlot())
    var arenaBytes: [UInt8] = []
    var rangeValues: [Int64] = []
    var ipValues: [IPAddress] = []
    var spans: [ByteSpan] = []
    var rows: [UInt32] = []
    var stateFlags: [UInt8] = []
    func addBytes(_ b: [UInt8]) -> ByteSpan {
      let s = ByteSpan(start: arenaBytes.count, count: b.count)
      arenaBytes += b
      return s
    }
    for (i, k) in program.constants.enumerated() {
      var slot = ConstantSlot()
      switch k {
      case .int(let v): slot.int = v
      case .ip(let a): slot.ip = a
      case .bytes(let b):
        let s = addBytes(b)
        slot.start = s.start
        slot.count = s.count
      case .path(let p):
        let bytes = Array(p.utf8)
        let s = addBytes(bytes)
        slot.start = s.start
        slot.count = s.count
        // The leaf: after "HTTP.headers." or "labels."; JSONSocket fields keep their whole path.
        if p.hasPrefix("HTTP.headers.") {
          slot.extra = 13
        } else if p.hasPrefix("labels.") {
          slot.extra = 7
        }
      case .intSet(let rs):
        slot.start = rangeValues.count / 2
        slot.count = rs.count
        for r in rs { rangeValues += [r.lowerBound, r.upperBound] }
      case .ipSet(let rs):
        slot.start = ipValues.count / 2
        slot.count = rs.count
        for r in rs { ipValues += [r.lo, r.hi] }
      case .bytesSet(let ms):
        slot.start = spans.count
        slot.count = ms.count
        for m in ms { spans.append(addBytes(m)) }
      case .automaton(let a):
        slot.start = rows.count
        slot.count = a.stateCount
        slot.extra = stateFlags.count
        slot.int = Int64(a.start)
        rows += a.transitions
        for s in 0..<a.stateCount {
          stateFlags.append((a.accepting[s] ? 1 : 0) | (a.acceptingAtEnd[s] ? 2 : 0))
        }
      }
      slots[i] = slot
    }
    arenaBytes.append(0)
    arena = .allocate(byteCount: arenaBytes.count, alignment: 8)
    arena.copyBytes(from: arenaBytes)
    ranges = .allocate(capacity: max(1, rangeValues.count))
    _ = ranges.initialize(from: rangeValues)
    ipRanges = .allocate(capacity: max(1, ipValues.count))
    _ = ipRanges.initialize(from: ipValues)
    members = .allocate(capacity: max(1, spans.count))
    _ = members.initialize(from: spans)
    transitions = .allocate(capacity: max(1, rows.count))
    _ = transitions.initialize(from: rows)
    flags = .allocate(capacity: max(1, stateFlags.count))
    _ = flags.initialize(from: stateFlags)
  }

  deinit {
    code.deallocate()
    slots.deallocate()
    arena.deallocate()
    ranges.deallocate()
    ipRanges.deallocate()
    members.deallocate()
    transitions.deallocate()
    flags.deallocate()
  }

  /// The entry of a rulelist by name.
  public func rulelist(named name: String) -> Int? { program.rulelist(named: name) }
}
