// Golden tests of the compiler's output, as Lua's `testes/code.lua`: every `golden/NAME.rules` is
// compiled and its `Disassembler.listing` must equal `golden/NAME.disasm` byte for byte, so any
// change in the instructions the compiler emits shows up as a diff in review.
//
// To accept a deliberate change, run the tests with the environment variable
// `L7MP_UPDATE_GOLDEN=1`: the runner then rewrites the `.disasm` files in the source tree (found
// through `#filePath`, not the bundled copy) instead of failing. Read every changed listing before
// committing it.
//
//     L7MP_UPDATE_GOLDEN=1 swift test --filter GoldenDisasm

import Foundation
import Testing

@testable import RuleLang

/// One `golden/*.rules` file.
struct GoldenCase: Sendable, CustomTestStringConvertible {
  let name: String
  let url: URL

  var testDescription: String { name }
}

/// The bundled copy of `golden/` (read-only).
private let bundledGolden: URL? = Bundle.module.url(forResource: "golden", withExtension: nil)

/// The folder in the source tree, where `L7MP_UPDATE_GOLDEN=1` writes.
private let sourceGolden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("golden")

private let updating = ProcessInfo.processInfo.environment["L7MP_UPDATE_GOLDEN"] == "1"

let allGoldenCases: [GoldenCase] = {
  guard let root = bundledGolden,
    let names = try? FileManager.default.contentsOfDirectory(atPath: root.path)
  else { return [] }
  return names.filter { $0.hasSuffix(".rules") }.sorted().map {
    GoldenCase(name: $0, url: root.appendingPathComponent($0))
  }
}()

/// A line diff (longest common subsequence) with `context` unchanged lines around each change:
/// `-` expected, `+` actual, as `diff -u` prints them.
func unifiedDiff(expected: String, actual: String, context: Int = 2) -> String {
  let a = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  let b = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
  // lcs[i][j]: the longest common subsequence of a[i...] and b[j...].
  var lcs = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
  for i in stride(from: a.count - 1, through: 0, by: -1) {
    for j in stride(from: b.count - 1, through: 0, by: -1) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
    }
  }
  var lines: [(Character, String)] = []
  var i = 0
  var j = 0
  while i < a.count || j < b.count {
    if i < a.count, j < b.count, a[i] == b[j] {
      lines.append((" ", a[i]))
      i += 1
      j += 1
    } else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] {
      lines.append(("-", a[i]))
      i += 1
    } else {
      lines.append(("+", b[j]))
      j += 1
    }
  }
  let changed = lines.indices.filter { lines[$0].0 != " " }
  var out: [String] = ["--- expected", "+++ actual"]
  var last = -1
  for k in lines.indices {
    guard changed.contains(where: { abs($0 - k) <= context }) else { continue }
    if last >= 0, k > last + 1 { out.append("@@") }
    out.append("\(lines[k].0)\(lines[k].1)")
    last = k
  }
  return out.joined(separator: "\n")
}

@Suite struct GoldenDisasmTests {
  @Test func theCorpusIsThere() {
    #expect(allGoldenCases.count >= 15, "golden/ should be bundled with the tests")
  }

  @Test(arguments: allGoldenCases)
  func listingMatches(_ c: GoldenCase) throws {
    let text = try String(contentsOf: c.url, encoding: .utf8)
    let program: Program
    switch RuleCompiler.compile(SourceFile(name: c.name, text: text)) {
    case .success(let p): program = p
    case .failure(let e):
      Issue.record("\(c.name) does not compile: \(e.description)")
      return
    }
    let actual = Disassembler.listing(program)
    let disasmName = String(c.name.dropLast(".rules".count)) + ".disasm"
    let expectedURL = c.url.deletingLastPathComponent().appendingPathComponent(disasmName)
    let expected = try? String(contentsOf: expectedURL, encoding: .utf8)
    if updating {
      if expected != actual {
        try actual.write(
          to: sourceGolden.appendingPathComponent(disasmName), atomically: true, encoding: .utf8)
      }
      return
    }
    guard let expected else {
      Issue.record("\(disasmName) is missing; run with L7MP_UPDATE_GOLDEN=1 to create it")
      return
    }
    #expect(
      expected == actual,
      "\(disasmName) differs (L7MP_UPDATE_GOLDEN=1 accepts the new listing):\n\(unifiedDiff(expected: expected, actual: actual))"
    )
  }

  /// The listing is stable across the binary format: a decoded program prints the same.
  @Test(arguments: allGoldenCases)
  func listingSurvivesTheBinaryFormat(_ c: GoldenCase) throws {
    let text = try String(contentsOf: c.url, encoding: .utf8)
    let program = try RuleCompiler.compile(SourceFile(name: c.name, text: text)).get()
    let decoded = try ProgramCodec.decode(ProgramCodec.encode(program))
    #expect(decoded == program)
    #expect(Disassembler.listing(decoded) == Disassembler.listing(program))
  }

  @Test func diffShowsChangedLines() {
    let d = unifiedDiff(expected: "a\nb\nc\nd", actual: "a\nB\nc\nd\ne")
    #expect(d.contains("-b\n+B"))
    #expect(d.contains("+e"))
    #expect(!d.contains("-a"))
  }
}
