// The syntax tree that RegexParser produces and RegexNFA consumes.

/// A set of bytes, as a 256-bit bitmap.
struct RegexByteSet: Hashable, Sendable {
  var w0: UInt64 = 0
  var w1: UInt64 = 0
  var w2: UInt64 = 0
  var w3: UInt64 = 0

  static let all = RegexByteSet(w0: ~0, w1: ~0, w2: ~0, w3: ~0)

  init() {}

  init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
    (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
  }

  init(_ bytes: UInt8...) {
    for b in bytes { insert(b) }
  }

  init(_ range: ClosedRange<UInt8>) {
    insert(range)
  }

  var isEmpty: Bool { (w0 | w1 | w2 | w3) == 0 }

  func contains(_ b: UInt8) -> Bool {
    let bit = UInt64(1) << UInt64(b & 63)
    switch b >> 6 {
    case 0: return w0 & bit != 0
    case 1: return w1 & bit != 0
    case 2: return w2 & bit != 0
    default: return w3 & bit != 0
    }
  }

  mutating func insert(_ b: UInt8) {
    let bit = UInt64(1) << UInt64(b & 63)
    switch b >> 6 {
    case 0: w0 |= bit
    case 1: w1 |= bit
    case 2: w2 |= bit
    default: w3 |= bit
    }
  }

  mutating func insert(_ range: ClosedRange<UInt8>) {
    for b in range { insert(b) }
  }

  mutating func formUnion(_ other: RegexByteSet) {
    w0 |= other.w0
    w1 |= other.w1
    w2 |= other.w2
    w3 |= other.w3
  }

  var inverted: RegexByteSet { RegexByteSet(w0: ~w0, w1: ~w1, w2: ~w2, w3: ~w3) }

  /// The set with every ASCII letter's other case added.
  var caseFolded: RegexByteSet {
    var out = self
    for b in UInt8(ascii: "A")...UInt8(ascii: "Z") where contains(b) || contains(b | 0x20) {
      out.insert(b)
      out.insert(b | 0x20)
    }
    return out
  }

  static let digit = RegexByteSet(UInt8(ascii: "0")...UInt8(ascii: "9"))
  static let word: RegexByteSet = {
    var s = RegexByteSet.digit
    s.insert(UInt8(ascii: "a")...UInt8(ascii: "z"))
    s.insert(UInt8(ascii: "A")...UInt8(ascii: "Z"))
    s.insert(UInt8(ascii: "_"))
    return s
  }()
  /// `\s`: space, \t, \n, \v, \f, \r.
  static let space: RegexByteSet = {
    var s = RegexByteSet(0x09...0x0D)
    s.insert(0x20)
    return s
  }()
}

/// The syntax tree of a regular expression over bytes.
indirect enum RegexNode: Equatable, Sendable {
  /// Matches the empty string.
  case empty
  /// One byte from the set.
  case bytes(RegexByteSet)
  case concat([RegexNode])
  case alternate([RegexNode])
  /// `min` to `max` repetitions; `max == nil` means unbounded.
  case repetition(RegexNode, min: Int, max: Int?)
  /// `^` or `\A`: the start of the input.
  case startOfInput
  /// `$` or `\z`: the end of the input.
  case endOfInput

  /// An upper bound on the number of automaton positions the node expands to; saturates.
  var weight: Int {
    switch self {
    case .empty: return 0
    case .bytes, .startOfInput, .endOfInput: return 1
    case .concat(let items): return items.reduce(0) { RegexNode.add($0, $1.weight) }
    case .alternate(let items):
      return items.reduce(items.count) { RegexNode.add($0, $1.weight) }
    case .repetition(let node, let min, let max):
      let w = node.weight
      if let max { return RegexNode.add(RegexNode.mul(w, max), max - min) }
      return RegexNode.add(RegexNode.mul(w, min + 1), 1)
    }
  }

  private static let saturation = 1 << 40
  private static func add(_ a: Int, _ b: Int) -> Int { Swift.min(a + b, saturation) }
  private static func mul(_ a: Int, _ b: Int) -> Int {
    a == 0 || b == 0 ? 0 : (a > saturation / b ? saturation : a * b)
  }
}
