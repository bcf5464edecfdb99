import Foundation
import Testing

@testable import RuleLang

/// Every code block marked ```rules in grammar/, README.md and docs/ must check without errors, so
/// the documentation cannot rot.
@Suite struct DocumentationExamplesTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  struct Example: CustomTestStringConvertible, Sendable {
    let file: String
    let line: Int
    let text: String
    var testDescription: String { "\(file):\(line)" }
  }

  static func documents() -> [String] {
    var paths = ["README.md"]
    let fm = FileManager.default
    for dir in ["grammar", "docs"] {
      let url = root.appendingPathComponent(dir)
      guard let e = fm.enumerator(atPath: url.path) else { continue }
      for case let p as String in e where p.hasSuffix(".md") || p.hasSuffix(".ebnf") {
        paths.append("\(dir)/\(p)")
      }
    }
    return paths.sorted()
  }

  /// Fenced blocks whose opening line is exactly ```rules.
  static func examples() -> [Example] {
    var out: [Example] = []
    for path in documents() {
      guard let text = try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
      else { continue }
      var current: [String]? = nil
      var start = 0
      for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        if current == nil, line == "```rules" {
          current = []
          start = n + 2
        } else if current != nil, line == "```" {
          out.append(Example(file: path, line: start, text: current!.joined(separator: "\n")))
          current = nil
        } else if current != nil {
          current!.append(String(line))
        }
      }
    }
    return out
  }

  @Test func thereAreExamplesInEveryPlace() {
    let files = Set(Self.examples().map(\.file))
    #expect(files.contains("README.md"))
    #expect(files.contains("grammar/rules.ebnf"))
    #expect(files.contains("docs/language.md"))
  }

  @Test(arguments: examples())
  func exampleChecksWithoutErrors(_ example: Example) {
    let checked = RuleChecker.check(
      SourceFile(name: "\(example.file):\(example.line)", text: example.text))
    let errors = checked.diagnostics.filter { $0.severity == .error }
    let rendered = DiagnosticRenderer().render(errors, in: checked.source)
    #expect(errors.isEmpty, "example at \(example.file):\(example.line) has errors:\n\(rendered)")
  }

  /// DESIGN.md's normative example is clean: no errors and no warnings.
  @Test func designExampleIsClean() throws {
    let text = try String(
      contentsOf: Self.root.appendingPathComponent("examples/gateway.rules"), encoding: .utf8)
    let checked = RuleChecker.check(SourceFile(name: "gateway.rules", text: text))
    #expect(
      checked.diagnostics.isEmpty,
      "\(DiagnosticRenderer().render(checked.diagnostics, in: checked.source))")
    #expect(
      checked.file.rulelists.first?.rules.map(\.name.text) == [
        "from-gateway", "sip", "rtp", "everything-else",
      ])
  }
}
