import Testing

@testable import RuleLang

// MARK: - Differential test against a backtracking reference

/// A pattern tree that renders to pattern text and matches by backtracking.
private indirect enum Reference {
  case byte((UInt8) -> Bool)
  case start
  case end
  case concat([Reference])
  case alternate([Reference])
  case repetition(Reference, min: Int, max: Int?)

  /// Calls `next` with every position where a match of `self` starting at `i` can end, until
  /// `next` returns true.
  func match(_ s: [UInt8], _ i: Int, _ next: (Int) -> Bool) -> Bool {
    switch self {
    case .byte(let predicate): return i < s.count && predicate(s[i]) && next(i + 1)
    case .start: return i == 0 && next(i)
    case .end: return i == s.count && next(i)
    case .concat(let items): return Reference.matchAll(items[...], s, i, next)
    case .alternate(let branches): return branches.contains { $0.match(s, i, next) }
    case .repetition(let body, let min, let max):
      return Reference.repeatMatch(body, min, max, s, i, next)
    }
  }

  private static func matchAll(
    _ items: ArraySlice<Reference>, _ s: [UInt8], _ i: Int, _ next: (Int) -> Bool
  ) -> Bool {
    guard let first = items.first else { return next(i) }
    return first.match(s, i) { j in matchAll(items.dropFirst(), s, j, next) }
  }

  private static func repeatMatch(
    _ body: Reference, _ min: Int, _ max: Int?, _ s: [UInt8], _ i: Int, _ next: (Int) -> Bool
  ) -> Bool {
    if min > 0 {
      return body.match(s, i) { j in repeatMatch(body, min - 1, max.map { $0 - 1 }, s, j, next) }
    }
    if next(i) { return true }
    if max == 0 { return false }
    // An iteration that consumes nothing cannot reach new positions: skip it.
    return body.match(s, i) { j in
      j != i && repeatMatch(body, 0, max.map { $0 - 1 }, s, j, next)
    }
  }

  func search(_ s: [UInt8]) -> Bool {
    (0...s.count).contains { i in match(s, i) { _ in true } }
  }
}

private struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

private struct PatternGenerator {
  var rng: SplitMix64
  var caseInsensitive = false
  var dotAll = false

  static func swapCase(_ b: UInt8) -> UInt8 {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): b ^ 0x20
    default: b
    }
  }

  func folded(_ p: @escaping (UInt8) -> Bool) -> (UInt8) -> Bool {
    caseInsensitive ? { p($0) || p(Self.swapCase($0)) } : p
  }

  mutating func pattern() -> (String, Reference) {
    let flags = ["", "", "", "(?i)", "(?s)", "(?is)"].randomElement(using: &rng)!
    caseInsensitive = flags.contains("i")
    dotAll = flags.contains("s")
    let (text, node) = alternation(depth: 3)
    return (flags + text, node)
  }

  mutating func alternation(depth: Int) -> (String, Reference) {
    guard depth > 0, Int.random(in: 0..<4, using: &rng) == 0 else {
      return concatenation(depth: depth)
    }
    let branches = (0..<Int.random(in: 2...3, using: &rng)).map { _ in
      concatenation(depth: depth - 1)
    }
    return (branches.map(\.0).joined(separator: "|"), .alternate(branches.map(\.1)))
  }

  mutating func concatenation(depth: Int) -> (String, Reference) {
    let items = (0..<Int.random(in: 0...3, using: &rng)).map { _ in quantified(depth: depth) }
    return (items.map(\.0).joined(), .concat(items.map(\.1)))
  }

  mutating func quantified(depth: Int) -> (String, Reference) {
    let (text, node, repeatable) = atom(depth: depth)
    guard repeatable, Int.random(in: 0..<10, using: &rng) < 3 else { return (text, node) }
    let (q, min, max): (String, Int, Int?) = [
      ("*", 0, nil), ("+", 1, nil), ("?", 0, 1), ("{2}", 2, 2), ("{0}", 0, 0), ("{1,}", 1, nil),
      ("{0,2}", 0, 2), ("{1,3}", 1, 3), ("{2,}", 2, nil),
    ].randomElement(using: &rng)!
    let lazy = Int.random(in: 0..<5, using: &rng) == 0 ? "?" : ""
    return (text + q + lazy, .repetition(node, min: min, max: max))
  }

  mutating func atom(depth: Int) -> (String, Reference, Bool) {
    let roll = Int.random(in: 0..<100, using: &rng)
    switch roll {
    case 0..<40:
      let (text, b): (String, UInt8) = [
        ("a", 0x61), ("b", 0x62), ("A", 0x41), ("0", 0x30), ("\\.", 0x2E), ("\\n", 0x0A),
        ("\\x62", 0x62), ("-", 0x2D),
      ].randomElement(using: &rng)!
      return (text, .byte(folded { $0 == b }), true)
    case 40..<48:
      let dotAll = self.dotAll
      return (".", .byte { dotAll || $0 != 0x0A }, true)
    case 48..<62:
      let classes: [(String, (UInt8) -> Bool, Bool)] = [
        ("[ab]", { $0 == 0x61 || $0 == 0x62 }, false), ("[^a]", { $0 == 0x61 }, true),
        ("[a-b0]", { (0x61...0x62).contains($0) || $0 == 0x30 }, false),
        ("[A-Z]", { (0x41...0x5A).contains($0) }, false), ("[^\\n]", { $0 == 0x0A }, true),
        ("[.-]", { $0 == 0x2E || $0 == 0x2D }, false),
        ("[[:digit:]b]", { (0x30...0x39).contains($0) || $0 == 0x62 }, false),
        ("[^a-b]", { (0x61...0x62).contains($0) }, true),
      ]
      let (text, positive, negated) = classes.randomElement(using: &rng)!
      let f = folded(positive)
      return (text, .byte(negated ? { !f($0) } : f), true)
    case 62..<72:
      let digit: (UInt8) -> Bool = { (0x30...0x39).contains($0) }
      let word: (UInt8) -> Bool = {
        digit($0) || (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) || $0 == 0x5F
      }
      let space: (UInt8) -> Bool = { (0x09...0x0D).contains($0) || $0 == 0x20 }
      let escapes: [(String, (UInt8) -> Bool)] = [
        ("\\d", digit), ("\\D", { !digit($0) }), ("\\w", word), ("\\W", { !word($0) }),
        ("\\s", space), ("\\S", { !space($0) }),
      ]
      let (text, predicate) = escapes.randomElement(using: &rng)!
      return (text, .byte(predicate), true)
    case 72..<77:
      return ("^", .start, false)
    case 77..<82:
      return ("$", .end, false)
    default:
      guard depth > 0 else { return ("b", .byte(folded { $0 == 0x62 }), true) }
      let (inner, node) = alternation(depth: depth - 1)
      let open = ["(", "(?:", "(?<g>"].randomElement(using: &rng)!
      return (open + inner + ")", node, true)
    }
  }
}

@Test private func regexDifferentialAgainstBacktracking() throws {
  var generator = PatternGenerator(rng: SplitMix64(state: 0x5EED))
  var inputRNG = SplitMix64(state: 42)
  let alphabet: [UInt8] = [0x61, 0x62, 0x41, 0x30, 0x0A, 0x2E, 0x2D]
  var matched = 0
  var total = 0
  for _ in 0..<2000 {
    let (pattern, reference) = generator.pattern()
    let automaton = try RegexAutomaton.compile(pattern)
    _ = try RegexAutomaton(
      validating: automaton.transitions, accepting: automaton.accepting,
      acceptingAtEnd: automaton.acceptingAtEnd, start: automaton.start)
    for _ in 0..<16 {
      let count = Int.random(in: 0...7, using: &inputRNG)
      let input = (0..<count).map { _ in alphabet.randomElement(using: &inputRNG)! }
      let expected = reference.search(input)
      let actual = automaton.matches(input)
      #expect(
        actual == expected,
        "/\(pattern)/ on \(String(decoding: input, as: UTF8.self).debugDescription)")
      if actual != expected { return }
      matched += expected ? 1 : 0
      total += 1
    }
  }
  // Both outcomes are well represented.
  #expect(matched > total / 5 && matched < total * 4 / 5)
}

@Test private func regexRandomPatternsNeverCrashAndErrorsPointInsideThePattern() {
  var rng = SplitMix64(state: 7)
  let pieces = [
    "a", "b", "é", "(", ")", "[", "]", "^", "-", "{", "}", ",", "2", "*", "+", "?", "|", "\\",
    "\\d", "\\x4", ":", "(?", "(?i", "<", "=", "!", "$", ".", "[:", ":]", "\\b", "{1,2}",
  ]
  var compiled = 0
  for _ in 0..<3000 {
    let pattern = (0..<Int.random(in: 1...10, using: &rng)).map { _ in
      pieces.randomElement(using: &rng)!
    }.joined()
    do {
      let automaton = try RegexAutomaton.compile(pattern, maxStates: 256)
      _ = automaton.matches("ab-é")
      compiled += 1
    } catch .syntax(let e) {
      let size = pattern.utf8.count
      #expect(e.offset >= 0 && e.length >= 1 && e.offset + e.length <= size, "/\(pattern)/: \(e)")
    } catch {
      // the state cap: fine
    }
  }
  #expect(compiled > 100)
}
