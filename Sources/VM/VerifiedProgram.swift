import RuleLang

/// A program that passed the verifier, laid out for the interpreter: code and constants in flat,
/// manually managed memory, so evaluation touches no Swift arrays and no reference counts.
public final class VerifiedProgram: @unchecked Sendable {
  public let program: Program
  /// The longest path through the code, in instructions (the verifier's bound).
  public let worstPath: Int

  let code: UnsafeMutableBufferPointer<Instruction>
  /// The code as the interpreter runs it (`PreparedOp`), one per instruction.
  let ops: UnsafeMutableBufferPointer<PreparedOp>
  /// `ops`' first element (a verified program has code), without the optional's check per use.
  let opsBase: UnsafeMutablePointer<PreparedOp>
  /// Whether some instruction reads a byte-string register: only then does `S0` get the payload.
  let loadsPayload: Bool
  /// Each rulelist's first instruction.
  let entries: UnsafeMutableBufferPointer<Int>
  let slots: UnsafeMutableBufferPointer<ConstantSlot>
  let arena: UnsafeMutableRawBufferPointer
  let ranges: UnsafeMutableBufferPointer<Int64>  // int set bounds: lo, hi, lo, hi…
  let ipRanges: UnsafeMutableBufferPointer<IPAddress>  // ip set bounds
  let members: UnsafeMutableBufferPointer<ByteSpan>  // bytes set members
  let transitions: UnsafeMutableBufferPointer<UInt32>
  let flags: UnsafeMutableBufferPointer<UInt8>  // automaton state flags: 1 accepting, 2 at end
  let words: UnsafeMutableBufferPointer<UInt32>  // rule indexes: PCs, candidate lists, trie edges
  let indexes: UnsafeMutableBufferPointer<FlatIndex>
  let tables: UnsafeMutableBufferPointer<FlatTable>

  /// A rule index laid out flat: offsets into `words`, `tables`.
  struct FlatIndex {
    var rulePCs = 0
    var ruleCount = 0
    var end = 0
    var always = 0
    var alwaysCount = 0
    var firstTable = 0
    var tableCount = 0
  }

  /// One key table: `kind` 0 int intervals (bounds in `ranges`), 1 ip intervals (bounds in
  /// `ipRanges`), 2 prefix trie. `lists` is an offset into `words` of (start, count) pairs, one per
  /// interval or trie node; for tries `edges` is an offset into `words` of (start, count) pairs
  /// per node, each edge being (byte, target) in `words`.
  ///
  /// A large table gets a lookup table in `words` at `direct` (-1: none; see `DirectTables`): an int
  /// table whose bounds lie in 0...65535 maps each key straight to its interval + 1 (0: none); an
  /// IPv4-only address table maps each key's top 16 bits to the intervals to search, whose bounds
  /// are then 32-bit (lo, hi pairs in `words` at `v4Bounds`). `lookup` says which way
  /// `CandidateLists.collect` finds a packet's interval or node.
  struct FlatTable {
    var kind: UInt8 = 0
    var field: UInt8 = 0
    var lookup = Lookup.intSearch
    /// The field's byte offset in `PacketView` (`FieldOffsets`).
    var fieldOffset = 0
    var count = 0
    var bounds = 0
    var lists = 0
    var edges = 0
    var direct = -1
    var v4Bounds = 0
    /// A trie's root children by byte (`DirectTables.addRootTable`), or -1.
    var rootChildren = -1
  }

  enum Lookup: UInt8 {
    /// Binary search of the int bounds in `ranges`.
    case intSearch
    /// Binary search of the address bounds in `ipRanges`.
    case ipSearch
    /// The prefix trie's walk.
    case trie
    /// The port's entry in the lookup table at `direct`.
    case portDirect
    /// A search of the 32-bit bounds at `v4Bounds`, among the intervals of the address's bucket.
    case v4Buckets
  }

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

  /// `specialized: false` runs every instruction but `match` and `noMatch` through
  /// `Machine.general`, the instruction set's plain definition: tests hold the prepared kinds to it.
  init(program: Program, worstPath: Int, specialized: Bool = true) {
    self.program = program
    self.worstPath = worstPath
    code = .allocate(capacity: max(1, program.code.count))
    entries = .allocate(capacity: max(1, program.rulelists.count))
    _ = entries.initialize(from: program.rulelists.map(\.entry))
    _ = code.initialize(from: program.code)
    ops = .allocate(capacity: max(1, program.code.count))
    _ = ops.initialize(
      from: PreparedOp.prepare(program.code, program.constants, specialized: specialized))
    opsBase = ops.baseAddress!
    loadsPayload = PreparedOp.readsBytesRegisters(program.code)
    slots = .allocate(capacity: max(1, program.constants.count))
    slots.initialize(repeating: ConstantSlot())
    var arenaBytes: [UInt8] = []
    var rangeValues: [Int64] = []
    var ipValues: [IPAddress] = []
    var spans: [ByteSpan] = []
    var rows: [UInt32] = []
    var stateFlags: [UInt8] = []
    var wordValues: [UInt32] = []
    var flatIndexes: [FlatIndex] = []
    var flatTables: [FlatTable] = []
    func addLists(_ lists: [[UInt32]]) -> Int {
      // (start, count) pairs first, then the lists themselves.
      let pairs = wordValues.count
      wordValues += [UInt32](repeating: 0, count: 2 * lists.count)
      for (i, l) in lists.enumerated() {
        wordValues[pairs + 2 * i] = UInt32(wordValues.count)
        wordValues[pairs + 2 * i + 1] = UInt32(l.count)
        wordValues += l
      }
      return pairs
    }
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
        } else if let f = Field.allCases.first(where: { $0.kind == .bytes && $0.description == p })
        {
          // An HTTP field some `set` writes, read by name: rewrites first, then this field.
          slot.extra = -1
          slot.int = Int64(f.rawValue)
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
      case .ruleIndex(let x):
        var f = FlatIndex()
        f.rulePCs = wordValues.count
        f.ruleCount = x.rulePCs.count
        wordValues += x.rulePCs
        f.end = Int(x.end)
        f.always = wordValues.count
        f.alwaysCount = x.always.count
        wordValues += x.always
        f.firstTable = flatTables.count
        for t in x.intTables {
          var ft = FlatTable(kind: 0, field: t.field.rawValue, count: t.lo.count)
          ft.fieldOffset = FieldOffsets.of(t.field)
          ft.bounds = rangeValues.count / 2
          for j in t.lo.indices { rangeValues += [t.lo[j], t.hi[j]] }
          ft.lists = addLists(t.lists)
          DirectTables.addPortTable(&ft, lo: t.lo, hi: t.hi, to: &wordValues)
          flatTables.append(ft)
        }
        for t in x.ipTables {
          var ft = FlatTable(
            kind: 1, field: t.field.rawValue, lookup: .ipSearch, count: t.lo.count)
          ft.fieldOffset = FieldOffsets.of(t.field)
          ft.bounds = ipValues.count / 2
          for j in t.lo.indices { ipValues += [t.lo[j], t.hi[j]] }
          ft.lists = addLists(t.lists)
          DirectTables.addIPv4Table(&ft, lo: t.lo, hi: t.hi, to: &wordValues)
          flatTables.append(ft)
        }
        for t in x.prefixTables {
          var ft = FlatTable(
            kind: 2, field: t.field.rawValue, lookup: .trie, count: t.lists.count)
          ft.fieldOffset = FieldOffsets.of(t.field)
          ft.lists = addLists(t.lists)
          DirectTables.addRootTable(
            &ft, nodes: t.lists.count, bytes: t.edgeBytes[0], targets: t.edgeTargets[0],
            to: &wordValues)
          ft.edges = wordValues.count
          wordValues += [UInt32](repeating: 0, count: 2 * t.lists.count)
          for n in t.lists.indices {
            wordValues[ft.edges + 2 * n] = UInt32(wordValues.count)
            wordValues[ft.edges + 2 * n + 1] = UInt32(t.edgeBytes[n].count)
            for (b, target) in zip(t.edgeBytes[n], t.edgeTargets[n]) {
              wordValues += [UInt32(b), target]
            }
          }
          flatTables.append(ft)
        }
        f.tableCount = flatTables.count - f.firstTable
        slot.extra = flatIndexes.count
        flatIndexes.append(f)
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
    words = .allocate(capacity: max(1, wordValues.count))
    _ = words.initialize(from: wordValues)
    indexes = .allocate(capacity: max(1, flatIndexes.count))
    _ = indexes.initialize(from: flatIndexes)
    tables = .allocate(capacity: max(1, flatTables.count))
    _ = tables.initialize(from: flatTables)
  }

  deinit {
    code.deallocate()
    ops.deallocate()
    entries.deallocate()
    slots.deallocate()
    arena.deallocate()
    ranges.deallocate()
    ipRanges.deallocate()
    members.deallocate()
    transitions.deallocate()
    flags.deallocate()
    words.deallocate()
    indexes.deallocate()
    tables.deallocate()
  }

  /// The entry of a rulelist by name.
  public func rulelist(named name: String) -> Int? { program.rulelist(named: name) }
}
