// The rule language's test corpus: every file under `cases/` is one test case, checked by
// `RuleChecker.check` and compared with the expectations written in its own comments.
//
//     // error: TEXT            an error on this line whose message contains TEXT
//     // warning: TEXT          the same for a warning
//     // error@+1: TEXT         on the next line (@-1: the previous one; any offset works)
//     // error@col 12: TEXT     on this line, starting at column 12 (1-based, in bytes)
//     // error@+1@col 3: TEXT   both
//
// (`// note: TEXT` works the same way, for a note reported on its own.) Several expectations may
// share a line (`// error: A // warning: B`). A file whose first line starts with `// ok` must
// produce no diagnostics at all; any other file must hold at least one expectation. Every
// diagnostic must be expected and every expectation met. Expectations are found by scanning the
// raw lines, not by the lexer, so they work inside broken code too.

import Foundation
import Testing

@testable import RuleLang

// MARK: - Cases

/// One `.rules` file of the corpus.
struct LanguageCase: Sendable, CustomTestStringConvertible {
  /// The path under `cases/`, e.g. `lexer/hex-integers.rules`.
  let path: String
  let url: URL

  var testDescription: String { path }
}

/// The folder of case files bundled with the tests.
private let casesDirectory: URL? = Bundle.module.url(forResource: "cases", withExtension: nil)

/// Every case file, sorted by path.
let allLanguageCases: [LanguageCase] = {
  guard let root = casesDirectory?.standardizedFileURL.resolvingSymlinksInPath(),
    let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
  else { return [] }
  let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
  var cases: [LanguageCase] = []
  for case let url as URL in walker where url.pathExtension == "rules" {
    let full = url.standardizedFileURL.resolvingSymlinksInPath().path
    let relative = full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full
    cases.append(LanguageCase(path: relative, url: url))
  }
  return cases.sorted { $0.path < $1.path }
}()

// MARK: - Expectations

/// One `// error: …` or `// warning: …` comment.
struct Expectation: Sendable, Hashable, CustomStringConvertible {
  let severity: Severity
  /// The line the diagnostic must be on (1-based).
  let line: Int
  /// The column it must start at, if given.
  let column: Int?
  /// A substring of its message.
  let text: String
  /// Where the comment itself is, for messages.
  let commentLine: Int

  var description: String {
    let at = column.map { "\(line):\($0)" } ?? "\(line)"
    let from = commentLine == line ? "" : " (comment on line \(commentLine))"
    return "\(at) \(severity.rawValue): …\(text)…\(from)"
  }
}

/// What a case file's comments say it should produce.
struct CaseExpectations: Sendable {
  var ok = false
  var expectations: [Expectation] = []
  /// Comments that look like expectations but do not follow the syntax.
  var malformed: [String] = []

  init(parsing text: String) {
    // Regex values are not Sendable, so they live here rather than in static properties.
    let marker = /\/\/\s*(error|warning|note)\s*[@:]/
    let full = /^\/\/\s*(error|warning|note)(?:@([+-]\d+))?(?:\s*@\s*col\s*(\d+))?\s*:\s*(.*)$/
    let okLine = /^\/\/\s*ok\b/
    // Lines as `SourceFile` counts them: split at each LF byte ("\r\n" is one Character in Swift).
    let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
      String(decoding: line.last == 0x0D ? line.dropLast() : line[...], as: UTF8.self)
    }
    if let first = lines.first, first.firstMatch(of: okLine) != nil { ok = true }
    for (index, raw) in lines.enumerated() {
      let lineNumber = index + 1
      // Each marker starts an expectation that runs to the next marker or the end of the line.
      let starts = raw.matches(of: marker).map(\.range.lowerBound)
      for (k, start) in starts.enumerated() {
        let end = k + 1 < starts.count ? starts[k + 1] : raw.endIndex
        let piece = String(raw[start..<end]).trimmingCharacters(in: .whitespaces)
        guard let m = piece.wholeMatch(of: full) else {
          malformed.append("line \(lineNumber): \(piece)")
          continue
        }
        let severity = Severity(rawValue: String(m.1))!
        let offset = m.2.flatMap { Int($0) } ?? 0
        let column = m.3.flatMap { Int($0) }
        let message = String(m.4).trimmingCharacters(in: .whitespaces)
        if message.isEmpty {
          malformed.append("line \(lineNumber): \(piece) (no message text)")
          continue
        }
        expectations.append(
          Expectation(
            severity: severity, line: lineNumber + offset, column: column, text: message,
            commentLine: lineNumber))
      }
    }
  }
}

/// A diagnostic as the runner sees it: position and words.
struct ActualDiagnostic: Sendable, Hashable, CustomStringConvertible {
  let severity: Severity
  let line: Int
  let column: Int
  let message: String

  var description: String { "\(line):\(column) \(severity.rawValue): \(message)" }

  func satisfies(_ e: Expectation) -> Bool {
    severity == e.severity && line == e.line && (e.column == nil || e.column == column)
      && message.contains(e.text)
  }
}

/// Pairs expectations with diagnostics (a maximum bipartite matching, so that the order of
/// several expectations on one line does not matter). Returns what is left on each side.
func matchDiagnostics(_ expected: [Expectation], _ actual: [ActualDiagnostic]) -> (
  unmet: [Expectation], unexpected: [ActualDiagnostic]
) {
  var owner = [Int?](repeating: nil, count: actual.count)  // diagnostic → expectation
  func augment(_ e: Int, _ visited: inout [Bool]) -> Bool {
    for d in actual.indices where !visited[d] && actual[d].satisfies(expected[e]) {
      visited[d] = true
      if owner[d] == nil || augment(owner[d]!, &visited) {
        owner[d] = e
        return true
      }
    }
    return false
  }
  var unmet: [Expectation] = []
  for e in expected.indices {
    var visited = [Bool](repeating: false, count: actual.count)
    if !augment(e, &visited) { unmet.append(expected[e]) }
  }
  let unexpected = actual.indices.filter { owner[$0] == nil }.map { actual[$0] }
  return (unmet, unexpected)
}

// MARK: - Running a case

/// Checks one case file and describes every way it differs from its expectations; nil when it
/// passes.
func runLanguageCase(name: String, text: String) -> (report: String, firstLine: Int)? {
  let spec = CaseExpectations(parsing: text)
  let source = SourceFile(name: name, text: text)
  let checked = RuleChecker.check(source)
  let actual = checked.diagnostics.map { d in
    let at = source.location(of: d.range.start)
    return ActualDiagnostic(
      severity: d.severity, line: at.line, column: at.column, message: d.message)
  }
  var problems: [String] = []
  var firstLine = Int.max
  if !spec.malformed.isEmpty {
    problems.append(
      "malformed expectation comments (write '// error: TEXT', '// warning@+1: TEXT', '// error@col 5: TEXT'):\n"
        + spec.malformed.map { "    \($0)" }.joined(separator: "\n"))
  }
  if spec.ok, !spec.expectations.isEmpty {
    problems.append("the file starts with '// ok' but also holds expectations")
  }
  if !spec.ok, spec.expectations.isEmpty, spec.malformed.isEmpty {
    problems.append(
      "the file has no expectations: start it with '// ok' if it must be clean, or add '// error: …'"
    )
  }
  let (unmet, unexpected) = matchDiagnostics(spec.expectations, actual)
  if !unmet.isEmpty {
    problems.append(
      "expected but not produced:\n" + unmet.map { "    \($0)" }.joined(separator: "\n"))
    firstLine = min(firstLine, unmet.map(\.line).min()!)
  }
  if !unexpected.isEmpty {
    problems.append(
      "produced but not expected:\n" + unexpected.map { "    \($0)" }.joined(separator: "\n"))
    firstLine = min(firstLine, unexpected.map(\.line).min()!)
  }
  guard !problems.isEmpty else { return nil }
  let expectedList =
    spec.expectations.isEmpty
    ? "    (none)" : spec.expectations.map { "    \($0)" }.joined(separator: "\n")
  let actualList =
    actual.isEmpty ? "    (none)" : actual.map { "    \($0)" }.joined(separator: "\n")
  let report = """
    \(name): does not match its expectations
    \(problems.joined(separator: "\n"))
    all expected:
    \(expectedList)
    all produced:
    \(actualList)
    """
  return (report, firstLine == Int.max ? 1 : firstLine)
}

// MARK: - Tests

@Suite("Language cases")
struct LanguageCaseTests {
  /// The case files live beside this file in the source tree; failures point there, so an editor
  /// can jump to the line.
  static let sourceCasesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("cases")

  @Test("case", arguments: allLanguageCases)
  func languageCase(_ c: LanguageCase) throws {
    let data = try Data(contentsOf: c.url)
    let text = String(decoding: data, as: UTF8.self)
    let shownPath = "cases/\(c.path)"
    guard let (report, line) = runLanguageCase(name: shownPath, text: text) else { return }
    let filePath = Self.sourceCasesDirectory.appendingPathComponent(c.path).path
    Issue.record(
      Comment(rawValue: report),
      sourceLocation: Testing.SourceLocation(
        fileID: "RuleLangTests/\(shownPath)", filePath: filePath, line: line, column: 1))
  }

  @Test("the corpus holds at least 150 case files")
  func corpusSize() {
    #expect(casesDirectory != nil, "the 'cases' resource folder is missing from the test bundle")
    #expect(allLanguageCases.count >= 150, "only \(allLanguageCases.count) case files")
  }

  @Test("every case file starts with a comment saying what it tests")
  func casesAreDescribed() throws {
    for c in allLanguageCases {
      let data = try Data(contentsOf: c.url)
      let first = String(decoding: data.prefix { $0 != 0x0A && $0 != 0x0D }, as: UTF8.self)
      #expect(
        first.hasPrefix("//") && first.count > 6,
        "cases/\(c.path): the first line should be a comment describing the case")
    }
  }

  // The runner's own logic, on inline sources.

  @Test("expectation comments are parsed")
  func parsesExpectations() {
    let spec = CaseExpectations(
      parsing: """
        // a description
        x // error: one
        y // warning@col 3: two // error@-1: three
        // error@+1 @col 12: four
        """)
    #expect(!spec.ok)
    #expect(spec.malformed.isEmpty)
    #expect(
      spec.expectations == [
        Expectation(severity: .error, line: 2, column: nil, text: "one", commentLine: 2),
        Expectation(severity: .warning, line: 3, column: 3, text: "two", commentLine: 3),
        Expectation(severity: .error, line: 2, column: nil, text: "three", commentLine: 3),
        Expectation(severity: .error, line: 5, column: 12, text: "four", commentLine: 4),
      ])
    #expect(CaseExpectations(parsing: "// ok: clean\n").ok)
    let crlf = CaseExpectations(parsing: "// crlf\r\nx // error: one\r\n")
    #expect(crlf.expectations.map(\.line) == [2] && crlf.expectations.first?.text == "one")
    #expect(!CaseExpectations(parsing: "// okay\n").ok)
    #expect(CaseExpectations(parsing: "x // error@+one: bad\n").malformed.count == 1)
  }

  @Test("mismatches are reported, matches are not")
  func reportsMismatches() {
    let good = """
      // a rule with an unknown field
      rulelist a for UDP {
        rule r when UDP.dst_prot == 1 { drop }  // error@col 15: unknown metadata field
      }
      """
    #expect(runLanguageCase(name: "good", text: good) == nil)
    let wrongColumn = good.replacingOccurrences(of: "@col 15", with: "@col 14")
    let report = runLanguageCase(name: "bad", text: wrongColumn)
    #expect(report?.report.contains("3:15 error: unknown metadata field") == true)
    #expect(report?.report.contains("expected but not produced") == true)
    #expect(report?.firstLine == 3)
    let unexpected = "// ok\nrulelist a for UDP { rule r { drop } rule s { drop } }\n"
    #expect(runLanguageCase(name: "ok", text: unexpected)?.report.contains("never reached") == true)
  }
}
