/// Why a `matches` pattern could not be compiled.
public enum RegexCompileError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The pattern is not valid (or uses a feature that needs backtracking).
  case syntax(RegexSyntaxError)
  /// The deterministic automaton would have more than `limit` states.
  case tooManyStates(limit: Int)

  /// A message for a person, without position.
  public var message: String {
    switch self {
    case .syntax(let e):
      return e.message
    case .tooManyStates(let limit):
      return
        "the pattern needs more than \(limit) automaton states; simplify it (e.g. bound the"
        + " repeats)"
    }
  }

  public var description: String { message }
}

/// Why a deserialized automaton was rejected by `RegexAutomaton(validating:…)`.
public struct RegexAutomatonFormatError: Error, Equatable, Sendable, CustomStringConvertible {
  public let message: String
  public var description: String { message }
}

/// A regular expression compiled to a deterministic finite automaton over bytes.
///
/// `matches` is a *search*: it holds if the pattern matches anywhere in the input (like grep and
/// Wireshark). `^` anchors at the start of the input, `$` at its end (there is no multi-line
/// mode). Matching reads each byte at most once, in one pass, and allocates nothing.
///
/// The layout is flat so that it can live in a bytecode constant pool:
/// - `transitions[state * 256 + byte]` is the next state;
/// - state 0 is the dead state: every transition leads back to it and it accepts nothing, so
///   matching stops with `false` there;
/// - `accepting[state]`: a match has been found, whatever follows (matching stops with `true`);
/// - `acceptingAtEnd[state]`: a match is found if the input ends in this state (this is where a
///   pattern ending in `$` accepts).
///
/// Compiled automata are minimal and their states are numbered canonically (0 dead, then breadth
/// first from `start` in byte order), so equivalent patterns compile to equal automata.
public struct RegexAutomaton: Sendable, Hashable {
  public let transitions: [UInt32]
  public let accepting: [Bool]
  public let acceptingAtEnd: [Bool]
  public let start: UInt32

  /// The dead state's number.
  public static let deadState: UInt32 = 0

  public var stateCount: Int { accepting.count }

  /// The default bound on the number of states of a compiled pattern.
  public static let defaultMaxStates = 4096

  init(transitions: [UInt32], accepting: [Bool], acceptingAtEnd: [Bool], start: UInt32) {
    self.transitions = transitions
    self.accepting = accepting
    self.acceptingAtEnd = acceptingAtEnd
    self.start = start
  }

  /// Rebuilds an automaton read back from a serialized program, checking that matching with it
  /// is safe: consistent array sizes, every transition and `start` in range, and state 0 dead.
  public init(
    validating transitions: [UInt32], accepting: [Bool], acceptingAtEnd: [Bool], start: UInt32
  ) throws(RegexAutomatonFormatError) {
    let n = accepting.count
    func fail(_ message: String) -> RegexAutomatonFormatError {
      RegexAutomatonFormatError(message: "invalid regex automaton: " + message)
    }
    guard n >= 1 else { throw fail("it has no states") }
    guard n <= Int(UInt32.max) / 256 else { throw fail("it has too many states (\(n))") }
    guard acceptingAtEnd.count == n else {
      throw fail("\(acceptingAtEnd.count) end-of-input flags for \(n) states")
    }
    guard transitions.count == n * 256 else {
      throw fail("\(transitions.count) transitions for \(n) states (expected \(n * 256))")
    }
    guard Int(start) < n else { throw fail("start state \(start) is out of range (\(n) states)") }
    for (i, target) in transitions.enumerated() where Int(target) >= n {
      throw fail("state \(i / 256) on byte \(i % 256) goes to \(target), out of range")
    }
    guard !accepting[0], !acceptingAtEnd[0], transitions[0..<256].max() == 0 else {
      throw fail("state 0 is not the dead state")
    }
    self.init(
      transitions: transitions, accepting: accepting, acceptingAtEnd: acceptingAtEnd,
      start: start)
  }

  /// Compiles `pattern` (RE2 / POSIX ERE subset, over the UTF-8 bytes of the string).
  ///
  /// - Throws: `.syntax` for an invalid or unsupported pattern, `.tooManyStates` if the
  ///   automaton would exceed `maxStates` states (the dead state included).
  public static func compile(
    _ pattern: String, maxStates: Int = defaultMaxStates
  ) throws(RegexCompileError) -> RegexAutomaton {
    let ast: RegexNode
    do {
      ast = try RegexParser.parse(pattern)
    } catch {
      throw .syntax(error)
    }
    return try compile(ast, maxStates: maxStates)
  }

  static func compile(_ ast: RegexNode, maxStates: Int) throws(RegexCompileError) -> RegexAutomaton
  {
    let nfa = RegexNFA(ast)
    var builder = RegexDFABuilder(nfa: nfa)
    let dfa = try builder.build(maxStates: maxStates)
    return dfa.minimized()
  }

  /// Whether the pattern matches anywhere in `bytes`. Linear in `bytes.count`; stops early once
  /// the answer is known; allocates nothing.
  @inlinable
  public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
    transitions.withUnsafeBufferPointer { table in
      accepting.withUnsafeBufferPointer { accepting in
        var state = Int(start)
        if accepting[state] { return true }
        for byte in bytes {
          state = Int(table[state &<< 8 | Int(byte)])
          if state == 0 { return false }
          if accepting[state] { return true }
        }
        return acceptingAtEnd[state]
      }
    }
  }

  /// Whether the pattern matches anywhere in the UTF-8 bytes of `string`.
  public func matches(_ string: String) -> Bool {
    var string = string
    return string.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
  }

  /// Whether the pattern matches anywhere in `bytes`.
  public func matches(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { matches($0) }
  }
}
