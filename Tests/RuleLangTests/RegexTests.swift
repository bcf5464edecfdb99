import Testing

@testable import RuleLang

// MARK: - Helpers

private func syntaxError(_ pattern: String) -> RegexSyntaxError? {
  do {
    _ = try RegexAutomaton.compile(pattern)
    return nil
  } catch {
    if case .syntax(let e) = error { return e }
    return nil
  }
}

private struct Case: CustomTestStringConvertible, Sendable {
  let pattern: String
  let input: String
  let expected: Bool
  init(_ pattern: String, _ input: String, _ expected: Bool) {
    (self.pattern, self.input, self.expected) = (pattern, input, expected)
  }
  var testDescription: String { "/\(pattern)/ on \(input.debugDescription) → \(expected)" }
}

// MARK: - Syntax elements

private let literalsAndDot: [Case] = [
  Case("abc", "xxabcxx", true), Case("abc", "abxc", false), Case("abc", "ab", false),
  Case("a.c", "abc", true), Case("a.c", "a\nc", false), Case("a.c", "a\u{0}c", true),
  Case("(?s)a.c", "a\nc", true), Case("a(?s:.)c", "a\nc", true), Case("a.c", "ac", false),
  Case("]", "a]", true), Case("}", "}", true), Case("a,b", "a,b", true), Case(" ", "a b", true),
]

private let classes: [Case] = [
  Case("[a-c]x", "bx", true), Case("[a-c]x", "dx", false), Case("[^a-c]", "abc", false),
  Case("[^a-c]", "abcd", true), Case("[^a]", "\n", true), Case("[]a]", "]", true),
  Case("[]a]", "b", false), Case("[^]a]", "]", false), Case("[^]a]", "b", true),
  Case("[a-]", "-", true), Case("[-a]", "-", true), Case("[a-]", "b", false),
  Case("[a\\-z]", "-", true), Case("[a\\-z]", "b", false), Case("[\\]]", "]", true),
  Case("[[]", "[", true), Case("[a[]", "[", true), Case("[\\d_]", "5", true),
  Case("[\\d_]", "_", true), Case("[\\d_]", "a", false), Case("[\\s]", "\t", true),
  Case("[\\W]", "a", false), Case("[\\W]", "!", true), Case("[\\x41-\\x43]", "B", true),
  Case("[\\x41-\\x43]", "D", false), Case("[[:alpha:]]", "5", false),
  Case("[[:alpha:]]", "q", true), Case("[[:^digit:]]", "5", false),
  Case("[[:^digit:]]", "x", true), Case("[[:xdigit:][:space:]]", " ", true),
  Case("[[:upper:]]", "a", false), Case("[.]", "a", false), Case("[.]", ".", true),
  Case("[*+?{}()|$^]", "|", true), Case("[a^]", "^", true), Case("[\\n]", "\n", true),
  Case("[\\\\]", "\\", true), Case("[a-a]", "a", true),
]

private let escapes: [Case] = [
  Case("\\d", "x5", true), Case("\\d", "x", false), Case("\\D", "5", false),
  Case("\\D", "5x", true), Case("\\w", "_", true), Case("\\w", "-", false),
  Case("\\W", "abc", false), Case("\\W", "a-c", true), Case("\\s", "a b", true),
  Case("\\s", "ab", false), Case("\\s", "\r", true), Case("\\S", "  ", false),
  Case("\\S", " x ", true), Case("a\\.b", "a.b", true), Case("a\\.b", "axb", false),
  Case("\\\\", "a\\b", true), Case("\\/", "/", true), Case("\\-", "-", true),
  Case("\\[\\]", "[]", true), Case("\\(\\)", "()", true), Case("\\{\\}", "{}", true),
  Case("\\*\\+\\?", "*+?", true), Case("\\|", "|", true), Case("\\|", "a", false),
  Case("\\^", "a^", true), Case("\\$", "$x", true), Case("\\x41", "A", true),
  Case("\\x4a\\x4A", "JJ", true), Case("\\n", "\n", true), Case("\\r", "\r", true),
  Case("\\t", "\t", true), Case("\\0", "a\u{0}", true), Case("\\0", "0", false),
  Case("\\#\\:", "#:", true), Case("\\f\\v", "\u{0C}\u{0B}", true),
]

private let anchors: [Case] = [
  Case("^abc", "abcx", true), Case("^abc", "xabc", false), Case("abc$", "xabc", true),
  Case("abc$", "abcx", false), Case("abc$", "abc\n", false), Case("^abc$", "abc", true),
  Case("^$", "", true), Case("^$", "a", false), Case("$", "anything", true),
  Case("^", "", true), Case("a^b", "ab", false), Case("a$b", "ab", false),
  Case("(^a|b)", "ca", false), Case("(^a|b)", "cb", true), Case("(^a|b)", "ac", true),
  Case("a$|b", "ab", true), Case("a$|c", "ab", false), Case("\\Aab\\z", "ab", true),
  Case("\\Aab\\z", "xab", false), Case("$^", "", true), Case("$^", "a", false),
  Case("x*$", "abc", true), Case("(a$)*b", "b", true), Case("(^)*a", "ba", true),
  Case("^(a|^b)", "b", true), Case("^(a|^b)", "cb", false), Case("(a|b$)$", "xb", true),
  Case("^a*$", "aaab", false),
]

private let alternationAndGroups: [Case] = [
  Case("cat|dog", "hotdog", true), Case("cat|dog", "cow", false), Case("a|", "zzz", true),
  Case("|", "", true), Case("(a|b|c)d", "cd", true), Case("(a|b|c)d", "dd", false),
  Case("x(a|bc|)y", "xy", true), Case("x(a|bc|)y", "xbcy", true), Case("x(a|bc|)y", "xby", false),
  Case("(?:ab)+$", "ababab", true), Case("(?:ab)+$", "ababa", false),
  Case("(?<name>ab)c", "abc", true), Case("(?P<n_1>x)y", "xy", true), Case("()", "", true),
  Case("((a)(b(c)))", "abc", true), Case("^(ab|a)(bc|c)$", "abc", true),
]

private let quantifiers: [Case] = [
  Case("^a*$", "", true), Case("^a*$", "aaaa", true), Case("^a+$", "", false),
  Case("^a+$", "aaa", true), Case("^a?b$", "b", true), Case("^a?b$", "ab", true),
  Case("^a?b$", "aab", false), Case("^a{3}$", "aaa", true), Case("^a{3}$", "aa", false),
  Case("^a{3}$", "aaaa", false), Case("^a{2,}$", "aa", true), Case("^a{2,}$", "aaaaaaa", true),
  Case("^a{2,}$", "a", false), Case("^a{2,3}$", "aaa", true), Case("^a{2,3}$", "aaaa", false),
  Case("^a{2,3}$", "a", false), Case("^a{0}$", "", true), Case("^a{0}$", "a", false),
  Case("^a{0,1}$", "a", true), Case("^a*?$", "aaa", true), Case("^a+?$", "aaa", true),
  Case("^a{2,3}?$", "aaa", true), Case("^a??b$", "ab", true), Case("^a{2}?$", "aa", true),
  Case("^(ab){2}$", "abab", true), Case("^(ab){2}$", "ab", false),
  Case("^(a|b){1,3}c$", "babc", true), Case("^(a|b){1,3}c$", "babac", false),
  Case("^(a*)*$", "aaa", true), Case("^(a*)+b$", "b", true), Case("^(a?){3}a{3}$", "aaa", true),
  Case("^\\d{1,3}(\\.\\d{1,3}){3}$", "10.0.0.255", true),
  Case("^\\d{1,3}(\\.\\d{1,3}){3}$", "10.0.0.2555", false), Case("^a{1000}$", "", false),
  Case("^a{1000}$", String(repeating: "a", count: 1000), true),
  Case("^a{1000}$", String(repeating: "a", count: 999), false),
  Case("^a{1000}$", String(repeating: "a", count: 1001), false),
  Case("^a{0,1000}$", String(repeating: "a", count: 1000), true),
]

private let caseInsensitive: [Case] = [
  Case("(?i)hello", "HeLLo world", true), Case("hello", "HELLO", false),
  Case("(?i)[a-c]+$", "xABC", true), Case("(?i)[^a]", "A", false), Case("(?i)[^a]", "Ab", true),
  Case("(?i)a(?-i)b", "Ab", true), Case("(?i)a(?-i)b", "AB", false),
  Case("a(?i:b)c", "aBc", true), Case("a(?i:b)c", "aBC", false), Case("(?i)\\x41", "a", true),
  Case("(?i)é", "É", false), Case("(?i)[[:upper:]]", "a", true), Case("((?i)a)a", "AA", false),
  Case("((?i)a)a", "Aa", true), Case("(?i)\\d", "5", true), Case("(?is)A.", "a\n", true),
  Case("(?i)[\\[-\\]_]", "_", true), Case("(?i)[\\[-\\]_]", "a", false),
]

private let utf8: [Case] = [
  Case("é+$", "caféé", true), Case("^é+$", "éé", true), Case("^é+$", "é\u{A9}", false),
  Case("^.{2}$", "é", true), Case("^.$", "é", false), Case("[éa]", "é", true),
  Case("[éa]x", "ex", false), Case("[éa]x", "éx", true), Case("^[éü]{2}$", "üé", true),
  Case("日本", "こんにちは日本", true), Case("日本", "日", false), Case("\\xC3\\xA9", "é", true),
  Case("(?:😀)+!", "😀😀!", true), Case("😀{2}", "😀😀", true), Case("😀{2}", "😀", false),
]

private let emptyPatternAndInput: [Case] = [
  Case("", "", true), Case("", "abc", true), Case("a", "", false), Case("a*", "", true),
  Case("(?i)", "", true), Case("(?:)", "x", true), Case("[^a]", "", false), Case("$", "", true),
]

@Test(
  arguments: literalsAndDot + classes + escapes + anchors + alternationAndGroups + quantifiers
    + caseInsensitive + utf8 + emptyPatternAndInput)
private func regexMatching(_ c: Case) throws {
  let automaton = try RegexAutomaton.compile(c.pattern)
  #expect(automaton.matches(c.input) == c.expected)
  #expect(automaton.matches(Array(c.input.utf8)) == c.expected)
}

@Test private func regexRawBytes() throws {
  let a = try RegexAutomaton.compile("\\x00\\xff[\\x80-\\xfe]$")
  let bytes: [UInt8] = [0x41, 0x00, 0xFF, 0x90]
  #expect(bytes.withUnsafeBytes { a.matches($0) })
  #expect(!a.matches([0x00, 0xFF, 0xFF]))
  let dot = try RegexAutomaton.compile("^.$")
  #expect(dot.matches([0xFF]))
  #expect(!dot.matches([0x0A]))
  #expect(try RegexAutomaton.compile("").matches(UnsafeRawBufferPointer(start: nil, count: 0)))
  #expect(!a.matches(UnsafeRawBufferPointer(start: nil, count: 0)))
}

// MARK: - Errors

private struct ErrorCase: CustomTestStringConvertible, Sendable {
  let pattern: String
  let message: String
  let offset: Int
  let length: Int
  init(_ pattern: String, _ message: String, _ offset: Int, _ length: Int) {
    (self.pattern, self.message, self.offset, self.length) = (pattern, message, offset, length)
  }
  var testDescription: String { "/\(pattern)/" }
}

private let errorCases: [ErrorCase] = [
  ErrorCase("[abc", "unterminated character class: add ']'", 0, 1),
  ErrorCase("x[]", "unterminated character class: add ']'", 1, 1),
  ErrorCase("[^]", "unterminated character class: add ']'", 0, 1),
  ErrorCase(
    "*a", "nothing to repeat before '*': put a character or group before it, or escape it", 0,
    1),
  ErrorCase(
    "a|+b", "nothing to repeat before '+': put a character or group before it, or escape it", 2,
    1),
  ErrorCase(
    "(?i)?", "nothing to repeat before '?': put a character or group before it, or escape it",
    4, 1),
  ErrorCase(
    "({2})", "nothing to repeat before '{2}': put a character or group before it", 1, 3),
  ErrorCase(
    "^*", "nothing to repeat before '*': '^' is an anchor, not a character", 1, 1),
  ErrorCase(
    "a\\z{2}", "nothing to repeat before '{2}': '\\z' is an anchor, not a character", 3, 3),
  ErrorCase(
    "[z-a]", "invalid range z-a in character class: the start comes after the end", 1, 3),
  ErrorCase(
    "[\\x7a-a]",
    "invalid range \\x7a-a in character class: the start comes after the end", 1, 6),
  ErrorCase(
    "[\\d-z]",
    "invalid range in character class: '\\d' cannot start a range; put '-' first or last to"
      + " match it literally", 1, 3),
  ErrorCase(
    "[a-\\d]",
    "invalid range a-\\d in character class: '\\d' cannot end a range; put '-' first or last to"
      + " match it literally", 1, 4),
  ErrorCase(
    "[a-é]",
    "invalid range a-é in character class: ranges of non-ASCII characters are not supported"
      + " (classes match single bytes)", 1, 4),
  ErrorCase(
    "[é-ü]",
    "invalid range in character class: ranges of non-ASCII characters are not supported"
      + " (classes match single bytes)", 1, 3),
  ErrorCase(
    "[^é]",
    "non-ASCII character 'é' in a negated character class is not supported (classes match"
      + " single bytes)", 2, 2),
  ErrorCase(
    "[[:foo:]]",
    "unknown POSIX class [:foo:]; known: alnum, alpha, ascii, blank, cntrl, digit, graph, lower,"
      + " print, punct, space, upper, word, xdigit", 1, 7),
  ErrorCase("(ab", "missing ')': the group opened here is never closed", 0, 1),
  ErrorCase("a(b(c)", "missing ')': the group opened here is never closed", 1, 1),
  ErrorCase("ab)", "unmatched ')': remove it, or write \\) to match a literal ')'", 2, 1),
  ErrorCase(
    "a{1001}", "repeat count in {1001} is larger than the limit of 1000", 1, 6),
  ErrorCase(
    "a{2,99999999999}", "repeat count in {2,99999999999} is larger than the limit of 1000", 1,
    15),
  ErrorCase(
    "a{5,2}", "invalid repeat {5,2}: the minimum is larger than the maximum", 1, 5),
  ErrorCase(
    "a{x}",
    "invalid repeat: expected {n}, {n,} or {n,m} after '{'; write \\{ to match a literal '{'",
    1, 1),
  ErrorCase(
    "a{,5}",
    "invalid repeat: expected {n}, {n,} or {n,m} after '{'; write \\{ to match a literal '{'",
    1, 1),
  ErrorCase(
    "a{2",
    "invalid repeat: expected {n}, {n,} or {n,m} after '{'; write \\{ to match a literal '{'",
    1, 1),
  ErrorCase(
    "{",
    "invalid repeat: expected {n}, {n,} or {n,m} after '{'; write \\{ to match a literal '{'",
    0, 1),
  ErrorCase(
    "a**",
    "'*' follows another quantifier: wrap the repeated part in (?:...) to repeat it again", 2,
    1),
  ErrorCase(
    "a{2}{3}",
    "'{3}' follows another quantifier: wrap the repeated part in (?:...) to repeat it again", 4,
    3),
  ErrorCase(
    "a*??",
    "'?' follows another quantifier: wrap the repeated part in (?:...) to repeat it again", 3,
    1),
  ErrorCase(
    "a*+", "possessive quantifier '*+' needs backtracking and is not supported: use '*'", 1, 2),
  ErrorCase(
    "a{2}+", "possessive quantifier '{2}+' needs backtracking and is not supported: use '{2}'",
    1, 4),
  ErrorCase(
    "(a)\\1", "backreference \\1 needs backtracking and is not supported", 3, 2),
  ErrorCase(
    "\\k<n>", "named backreference \\k needs backtracking and is not supported", 0, 2),
  ErrorCase("x(?=a)", "lookahead '(?=' needs backtracking and is not supported", 1, 3),
  ErrorCase("(?!a)", "lookahead '(?!' needs backtracking and is not supported", 0, 3),
  ErrorCase("(?<=a)", "lookbehind '(?<=' needs backtracking and is not supported", 0, 4),
  ErrorCase("(?<!a)", "lookbehind '(?<!' needs backtracking and is not supported", 0, 4),
  ErrorCase(
    "(?>a)", "atomic group '(?>' needs backtracking and is not supported: use '(?:'", 0, 3),
  ErrorCase(
    "(?P=n)",
    "'(?P=' (named backreference or recursion) needs backtracking and is not supported", 0, 4),
  ErrorCase(
    "(?<n",
    "invalid group name: write (?<name>...) with letters, digits and '_' in the name", 0, 4),
  ErrorCase(
    "(?<>a)",
    "invalid group name: write (?<name>...) with letters, digits and '_' in the name", 0, 4),
  ErrorCase(
    "(?",
    "unknown group syntax '(?': expected (...), (?:...), (?<name>...), (?i) or (?i:...)", 0, 2),
  ErrorCase(
    "(?i",
    "unknown group syntax '(?i': expected (...), (?:...), (?<name>...), (?i) or (?i:...)", 0, 3),
  ErrorCase(
    "(?#c)",
    "unknown group syntax '(?#': expected (...), (?:...), (?<name>...), (?i) or (?i:...)", 0, 3),
  ErrorCase(
    "(?m)^a",
    "multi-line mode (?m) is not supported: '^' and '$' match only at the start and end of the"
      + " input", 2, 1),
  ErrorCase(
    "(?x)",
    "unsupported flag 'x': only (?i) (ASCII case-insensitive) and (?s) ('.' matches newline) are"
      + " supported", 2, 1),
  ErrorCase("\\bfoo", "word boundary \\b is not supported", 0, 2),
  ErrorCase("a\\B", "word boundary \\B is not supported", 1, 2),
  ErrorCase(
    "[\\b]", "\\b is not supported inside a character class: write \\x08 for a backspace", 1, 2),
  ErrorCase(
    "[\\A]", "the anchor \\A cannot be used inside a character class", 1, 2),
  ErrorCase("abc\\", "trailing backslash: write \\\\ to match a backslash", 3, 1),
  ErrorCase("\\q", "unknown escape \\q: remove the backslash to match 'q'", 0, 2),
  ErrorCase("a\\Z", "unknown escape \\Z: remove the backslash to match 'Z'", 1, 2),
  ErrorCase("\\é", "unknown escape \\é: remove the backslash to match 'é'", 0, 3),
  ErrorCase("\\x4", "\\x must be followed by exactly two hex digits, e.g. \\x41", 0, 2),
  ErrorCase("\\x{41}", "\\x must be followed by exactly two hex digits, e.g. \\x41", 0, 2),
  ErrorCase("\\01", "octal escapes are not supported: write a byte as \\xHH", 0, 3),
  ErrorCase(
    "\\p{L}", "Unicode classes (\\p{...}) are not supported: use a byte class like [a-z]", 0, 2),
  ErrorCase(
    "(a{1000}){30}",
    "repeat '{30}' makes the pattern too large (more than 20000 positions): use smaller repeat"
      + " counts", 9, 4),
  ErrorCase(
    String(repeating: "(", count: 101) + String(repeating: ")", count: 101),
    "groups are nested too deeply (more than 100 levels)", 100, 1),
]

@Test(arguments: errorCases)
private func regexSyntaxErrors(_ c: ErrorCase) {
  let error = syntaxError(c.pattern)
  #expect(error == RegexSyntaxError(message: c.message, offset: c.offset, length: c.length))
}

@Test private func regexErrorValues() {
  let error = RegexCompileError.syntax(syntaxError("[")!)
  #expect(error.message == "unterminated character class: add ']'")
  #expect("\(error)" == error.message)
  #expect(syntaxError("[")!.description == "unterminated character class: add ']' (pattern byte 0)")
}

@Test private func regexStateCap() throws {
  #expect(throws: RegexCompileError.tooManyStates(limit: 100)) {
    try RegexAutomaton.compile("(a|b)*a(a|b){20}", maxStates: 100)
  }
  // Anchored at the end, the automaton must remember the last 21 bytes: 2^21 states.
  #expect(throws: RegexCompileError.tooManyStates(limit: 4096)) {
    try RegexAutomaton.compile("(a|b)*a(a|b){20}$")
  }
  #expect(
    RegexCompileError.tooManyStates(limit: 100).message
      == "the pattern needs more than 100 automaton states; simplify it (e.g. bound the repeats)")
  // 2^4 suffixes plus the dead state.
  let small = try RegexAutomaton.compile("(a|b)*a(a|b){3}$", maxStates: 100)
  #expect(small.stateCount == 17)
  #expect(small.matches("bbabab"))
  #expect(!small.matches("bbabbba"))
  // The bound counts the dead and the accepting state: "abc" needs 5 before minimization.
  #expect(try RegexAutomaton.compile("abc", maxStates: 5).stateCount == 5)
  #expect(throws: RegexCompileError.tooManyStates(limit: 4)) {
    try RegexAutomaton.compile("abc", maxStates: 4)
  }
}

// MARK: - Automaton structure

@Test private func regexEquivalentPatternsCompileToEqualAutomata() throws {
  let pairs = [
    ("a|b", "[ab]"), ("(?:a)", "a"), ("xx", "x{2}"), ("a+", "aa*"), ("[ab]*c", "c"),
    ("a.*", "a"), ("(?i)a", "[aA]"), ("\\d", "[0-9]"), ("a{2,}", "aaa*"), ("(a|b)*", ""),
    ("^(a|b)", "^[ab]"), ("[\\x00-\\xff]", "(?s)."),
  ]
  for (p, q) in pairs {
    #expect(try RegexAutomaton.compile(p) == RegexAutomaton.compile(q), "\(p) vs \(q)")
  }
}

@Test private func regexShapeOfSmallAutomata() throws {
  let abc = try RegexAutomaton.compile("abc")
  // dead, start, "a", "ab", accepting
  #expect(abc.stateCount == 5)
  #expect(abc.transitions.count == 5 * 256)
  #expect(abc.start == 1)
  #expect(abc.accepting == [false, false, false, false, true])
  #expect(abc.transitions[0..<256].allSatisfy { $0 == RegexAutomaton.deadState })

  let everything = try RegexAutomaton.compile("")
  #expect(everything.stateCount == 2)
  #expect(everything.accepting[Int(everything.start)])

  // An anchored pattern reaches the dead state and stops reading.
  let anchored = try RegexAutomaton.compile("^ab")
  let start = Int(anchored.start)
  #expect(anchored.transitions[start * 256 + Int(UInt8(ascii: "x"))] == 0)

  let never = try RegexAutomaton.compile("a^")
  #expect(never.stateCount == 1)
  #expect(never.start == 0)
  #expect(!never.matches("a^"))
  #expect(!never.matches(""))

  let end = try RegexAutomaton.compile("a$")
  #expect(end.accepting.allSatisfy { !$0 })
  #expect(end.acceptingAtEnd.contains(true))
}

@Test private func regexValidation() throws {
  let a = try RegexAutomaton.compile("^(ab|c)+d$")
  let copy = try RegexAutomaton(
    validating: a.transitions, accepting: a.accepting, acceptingAtEnd: a.acceptingAtEnd,
    start: a.start)
  #expect(copy == a)

  func rejected(
    _ t: [UInt32], _ acc: [Bool], _ end: [Bool], _ start: UInt32
  ) -> String? {
    do {
      _ = try RegexAutomaton(validating: t, accepting: acc, acceptingAtEnd: end, start: start)
      return nil
    } catch {
      return error.message
    }
  }
  let n = a.stateCount
  #expect(rejected([], [], [], 0) == "invalid regex automaton: it has no states")
  #expect(
    rejected(a.transitions, a.accepting, a.acceptingAtEnd.dropLast(), a.start)
      == "invalid regex automaton: \(n - 1) end-of-input flags for \(n) states")
  #expect(
    rejected(Array(a.transitions.dropLast()), a.accepting, a.acceptingAtEnd, a.start)
      == "invalid regex automaton: \(n * 256 - 1) transitions for \(n) states (expected"
      + " \(n * 256))")
  #expect(
    rejected(a.transitions, a.accepting, a.acceptingAtEnd, UInt32(n))
      == "invalid regex automaton: start state \(n) is out of range (\(n) states)")
  var bad = a.transitions
  bad[256 + 7] = UInt32(n)
  #expect(
    rejected(bad, a.accepting, a.acceptingAtEnd, a.start)
      == "invalid regex automaton: state 1 on byte 7 goes to \(n), out of range")
  bad = a.transitions
  bad[3] = 1
  #expect(
    rejected(bad, a.accepting, a.acceptingAtEnd, a.start)
      == "invalid regex automaton: state 0 is not the dead state")
  var acc = a.accepting
  acc[0] = true
  #expect(
    rejected(a.transitions, acc, a.acceptingAtEnd, a.start)
      == "invalid regex automaton: state 0 is not the dead state")
}

@Test private func regexLongInputIsLinearAndStopsEarly() throws {
  let big = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 18) + Array("needle".utf8)
  let a = try RegexAutomaton.compile("ne+dle$")
  #expect(a.matches(big))
  #expect(!a.matches(Array(big.dropLast())))
  #expect(try !RegexAutomaton.compile("^b").matches(big))
}
